// The test Kubernetes cluster's tools are pinned together: kube-apiserver, kube-controller-manager and kubectl are
// one Kubernetes release built from one wrapper module (tools/k8s), whose go.mod must take every staging module at
// that release's v0.<minor>.<patch>; etcd's wrapper requires the server version tools/versions.json names.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expandLdflags, toolSpec } from "./manifest";

const KUBE_TOOLS = ["kube-apiserver", "kube-controller-manager", "kubectl"] as const;
const goMod = (wrapper: string) => readFileSync(join(__dirname, wrapper, "go.mod"), "utf8");

/** `k8s.io/<staging> => k8s.io/<staging> <version>` lines of a go.mod, by module. */
function replacements(mod: string): Map<string, string> {
  const lines = [...mod.matchAll(/^\s*(k8s\.io\/[\w.-]+) => (k8s\.io\/[\w.-]+) (v\S+)$/gm)];
  return new Map(lines.map((m) => [m[1], m[1] === m[2] ? m[3] : `${m[2]} ${m[3]}`]));
}

describe("test cluster tool pins", () => {
  it("the three Kubernetes tools are one release built from the tools/k8s wrapper", () => {
    const version = toolSpec("kube-apiserver").version;
    for (const name of KUBE_TOOLS) {
      expect(toolSpec(name).version, name).toBe(version);
      expect(toolSpec(name).wrapper, name).toBe("k8s");
      expect(toolSpec(name).packages, name).toEqual([`k8s.io/kubernetes/cmd/${name}`]);
    }
    expect(goMod("k8s")).toMatch(new RegExp(`^\\s+k8s\\.io/kubernetes ${version.replaceAll(".", "\\.")}( // indirect)?$`, "m"));
  });

  it("every staging module is replaced by its release of the same Kubernetes version, and only those", () => {
    const [, minor, patch] = toolSpec("kube-apiserver").version.replace(/^v/, "").split(".");
    const staging = replacements(goMod("k8s"));
    // The 33 of k8s.io/kubernetes v1.37.2's go.mod less sample-cli-plugin and sample-controller (not served).
    expect(staging.size).toBe(31);
    for (const [module, target] of staging) expect(target, module).toBe(`v0.${minor}.${patch}`);
    for (const module of ["k8s.io/api", "k8s.io/apimachinery", "k8s.io/client-go", "k8s.io/apiserver", "k8s.io/kubectl", "k8s.io/pod-security-admission"]) {
      expect(staging.has(module), module).toBe(true);
    }
  });

  it("the version the binaries report comes from ldflags (gitVersion, gitMajor, gitMinor)", () => {
    expect(expandLdflags(toolSpec("kube-apiserver"))).toBe(
      "-X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37",
    );
  });

  it("tools/etcd requires etcd's server module at the pinned version and its client modules at the same", () => {
    const version = toolSpec("etcd").version.replaceAll(".", "\\.");
    expect(goMod("etcd")).toMatch(new RegExp(`^require go\\.etcd\\.io/etcd/server/v3 ${version}$`, "m"));
    for (const module of ["api/v3", "client/v3", "client/pkg/v3", "pkg/v3"]) {
      expect(goMod("etcd"), module).toMatch(new RegExp(`^\\s+go\\.etcd\\.io/etcd/${module.replace("/", "\\/")} ${version} // indirect$`, "m"));
    }
  });
});
