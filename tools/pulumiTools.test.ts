// The Pulumi tools are pinned together: the Kubernetes plugin's release is the @pulumi/kubernetes SDK's (the SDK
// asks the engine for its own version's plugin), and each wrapper module's go.mod builds the version that
// tools/versions.json names.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildFingerprint, expandLdflags, toolSpec } from "./manifest";

const root = join(__dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> };
const goMod = (wrapper: string) => readFileSync(join(__dirname, wrapper, "go.mod"), "utf8");

describe("Pulumi tool pins", () => {
  it("the Kubernetes plugin and @pulumi/kubernetes are the same release", () => {
    expect(toolSpec("pulumi-kubernetes").version).toBe(`v${pkg.dependencies["@pulumi/kubernetes"]}`);
  });

  it("tools/pulumi/go.mod requires pkg/v3 and sdk/v3 at the CLI's version", () => {
    const version = toolSpec("pulumi").version;
    expect(goMod("pulumi")).toMatch(new RegExp(`^\\s+github\\.com/pulumi/pulumi/pkg/v3 ${version.replaceAll(".", "\\.")}( // indirect)?$`, "m"));
    expect(goMod("pulumi")).toMatch(new RegExp(`^\\s+github\\.com/pulumi/pulumi/sdk/v3 ${version.replaceAll(".", "\\.")}( // indirect)?$`, "m"));
  });

  it("tools/kubernetes/go.mod requires the pseudo-version that tools/versions.json says is the release", () => {
    const pseudo = /(v4\.0\.0-\d{14}-[0-9a-f]{12})/.exec(toolSpec("pulumi-kubernetes").why)?.[1];
    expect(pseudo).toBeDefined();
    expect(goMod("kubernetes")).toContain(`github.com/pulumi/pulumi-kubernetes/provider/v4 ${pseudo}`);
  });

  it("ldflags carry the version (with and without the v) and a wrapper's go.mod is part of the fingerprint", () => {
    expect(expandLdflags(toolSpec("pulumi"))).toBe(`-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${toolSpec("pulumi").version}`);
    expect(expandLdflags(toolSpec("pulumi-kubernetes"))).toMatch(/version\.Version=4\.\d+\.\d+$/);
    const spec = toolSpec("pulumi");
    expect(buildFingerprint({ ...spec, wrapper: "kubernetes" })).not.toBe(buildFingerprint(spec));
  });
});
