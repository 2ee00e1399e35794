import { describe, expect, it } from "vitest";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Pod } from "kubernetes-models/v1/Pod";
import { cpuQuantityProblem, isKubernetesByteQuantity, kubernetesQuantitySpelling } from "../lib/kubernetesQuantity";
import { ConfigError, parseStackConfig } from "./stackConfig";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStackConfig, StackFileError } from "./stackFile";

// A user seed and its public key (infra/nkeys.test.ts checks the pair against natscli).
const SEED = "SUAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4H776Y";
const PUBLIC_KEY = "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK";

function problemsOf(raw: Record<string, unknown>, stack = "test"): string {
  try {
    parseStackConfig(stack, raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error(`config was accepted: ${JSON.stringify(raw)}`);
}

describe("stack config", () => {
  it("defaults are consistent with each other (ADR sizes, volume headroom, memory limit)", () => {
    const c = parseStackConfig("test", {});
    expect(c.replicas).toBe(3);
    expect(c.namespace).toBe("fluo-queue");
    expect(c.bytes.maxFileStore).toBe(10 * 2 ** 30);
    expect(c.bytes.maxMemoryStore).toBe(2 ** 30);
    expect(c.bytes.storageSize).toBeGreaterThanOrEqual(c.bytes.maxFileStore * 1.1);
    expect(c.bytes.memoryLimit).toBeGreaterThan(c.bytes.maxMemoryStore);
  });

  it("reads values the way the Pulumi engine passes them (strings, JSON arrays)", () => {
    const c = parseStackConfig("test", { replicas: "5", zoneSpread: "true", clientNamespaces: '["fluo","api"]' });
    expect(c.replicas).toBe(5);
    expect(c.zoneSpread).toBe(true);
    expect(c.clientNamespaces).toEqual(["fluo", "api"]);
  });

  it("GitOps mode (renderYamlToDirectory) refuses a kubeconfig, naming both keys; alone it is accepted", () => {
    expect(parseStackConfig("test", { renderYamlToDirectory: "out/manifests" }).renderYamlToDirectory).toBe("out/manifests");
    const problems = problemsOf({ renderYamlToDirectory: "out/manifests", kubeconfig: "~/.kube/config" });
    expect(problems).toContain('fluo-queue:renderYamlToDirectory = "out/manifests" and fluo-queue:kubeconfig are both set');
  });

  it("the shipped dev and prod stacks validate", () => {
    expect(readStackConfig("dev").environment).toBe("dev");
    const prod = readStackConfig("prod");
    expect(prod.protect).toBe(true);
    expect(prod.replicas).toBe(3);
  });

  // Each invalid config must be refused with a message naming the key (and the value where there is one).
  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ["even replica count", { replicas: 4 }, /fluo-queue:replicas = 4: must be 1, 3 or 5/],
    ["too many replicas", { replicas: "7" }, /fluo-queue:replicas/],
    ["unparseable size", { maxFileStore: "ten gigs" }, /fluo-queue:maxFileStore = "ten gigs": maxFileStore must be a size/],
    ["volume without headroom", { maxFileStore: "10GiB", storageSize: "10Gi" }, /fluo-queue:storageSize = "10Gi".*at least 11Gi/],
    ["ADR's 1Gi limit with a 1GB store", { maxMemoryStore: "1GB", memoryLimit: "1Gi", memoryRequest: "256Mi" }, /fluo-queue:memoryLimit = "1Gi".*OOM/],
    ["request above limit", { memoryRequest: "4Gi", memoryLimit: "2Gi" }, /fluo-queue:memoryRequest = "4Gi": must not exceed memoryLimit/],
    ["floating image tag", { natsImage: "nats:latest" }, /fluo-queue:natsImage = "nats:latest": must pin a version/],
    ["image without tag", { exporterImage: "natsio/prometheus-nats-exporter" }, /fluo-queue:exporterImage.*<repository>:<tag>/],
    ["unknown key (typo)", { replica: 3 }, /fluo-queue:replica = 3: unknown key \(did you mean fluo-queue:replicas\?\)\. Known keys: .*replicas/],
    ["bad namespace name", { namespace: "Fluo_Queue" }, /fluo-queue:namespace = "Fluo_Queue": must be a DNS-1123 label/],
    ["client namespace list not a list", { clientNamespaces: "fluo" }, /fluo-queue:clientNamespaces/],
    ["prod without protection", { environment: "prod", protect: false }, /fluo-queue:protect = false: prod must protect/],
    ["prod with a single server", { environment: "prod", protect: true, replicas: 1 }, /fluo-queue:replicas = 1: prod needs 3 or 5/],
    ["unknown environment", { environment: "production" }, /fluo-queue:environment = "production"/],
    ["bad label for PodMonitor selection", { podMonitorLabels: ["release"] }, /fluo-queue:podMonitorLabels\.0.*key=value/],
    ["bad NATS URL", { natsUrl: "localhost:4222" }, /fluo-queue:natsUrl = "localhost:4222": must be a NATS URL/],
    ["boolean given as word", { zoneSpread: "yes" }, /fluo-queue:zoneSpread = "yes"/],
    ["unknown authentication mode", { authentication: "nkeys" }, /^invalid stack config: fluo-queue:authentication = "nkeys": must be one of password, password\+nkey, nkey$/],
    ["a seed while logging in with passwords", { bffSeed: SEED }, /^invalid stack config: fluo-queue:bffSeed is set, but fluo-queue:authentication = "password" logs in with passwords only: set authentication to "password\+nkey" or "nkey", or remove the seed \(`pulumi config rm fluo-queue:bffSeed`\)$/],
    [
      "passwords left in config after the move to NKEYs",
      { authentication: "nkey", bffPassword: "a", operatorPassword: { secure: "v1:abc" }, bcryptSaltKey: "k", routePassword: "r" },
      /^invalid stack config: fluo-queue:bffPassword, fluo-queue:operatorPassword and fluo-queue:bcryptSaltKey are set, but fluo-queue:authentication = "nkey" logs in with NKEYs only \(routePassword stays\): remove them \(`pulumi config rm fluo-queue:bffPassword`, `pulumi config rm fluo-queue:operatorPassword`, `pulumi config rm fluo-queue:bcryptSaltKey`\)$/,
    ],
  ];
  it.each(invalid)("rejects %s, naming the key", (_name, raw, expected) => {
    expect(problemsOf(raw)).toMatch(expected);
  });

  it("with nkey the route password is still read, and one password key left over is named alone", () => {
    expect(parseStackConfig("test", { authentication: "nkey", routePassword: "r" }).authentication).toBe("nkey");
    expect(parseStackConfig("test", { authentication: "password+nkey", bffPassword: "a", bcryptSaltKey: Buffer.alloc(32, 7).toString("base64") }).authentication).toBe("password+nkey");
    expect(problemsOf({ authentication: "nkey", workersPassword: "w" })).toBe(
      'invalid stack config: fluo-queue:workersPassword is set, but fluo-queue:authentication = "nkey" logs in with NKEYs only (routePassword stays): remove it (`pulumi config rm fluo-queue:workersPassword`)',
    );
  });

  it("a YAML boolean or number on a text key is read as its text, as Pulumi passes it to the program", () => {
    // Pulumi hands the program every scalar as a string; the stack file reader sees YAML's types.
    expect(parseStackConfig("test", { kubeContext: true }).kubeContext).toBe("true");
    expect(parseStackConfig("test", { clusterName: 2026 }).clusterName).toBe("2026");
    expect(parseStackConfig("test", { protect: "true" }).protect).toBe(true);
  });

  it("authentication defaults to password; nkey and password+nkey read seeds from config, prod included", () => {
    expect(parseStackConfig("test", {}).authentication).toBe("password");
    for (const mode of ["nkey", "password+nkey"]) {
      const c = parseStackConfig("test", { authentication: mode, environment: "prod", protect: true, tls: "cert-manager", workersSeed: SEED });
      expect(c.authentication).toBe(mode);
      // Secrets never enter the validated model.
      expect(JSON.stringify(c)).not.toContain(SEED);
    }
  });

  it("a seed that is not an NKEY user seed is one line naming the key, never the value", () => {
    for (const bad of ["SUAAAA", SEED.replace(/^SU/, "SA"), `${SEED.slice(0, -1)}A`, PUBLIC_KEY]) {
      const message = problemsOf({ authentication: "nkey", provisionerSeed: bad });
      expect(message).toBe(
        'invalid stack config: fluo-queue:provisionerSeed (value not shown: a secret) is not an NKEY user seed: 58 characters starting with "SU" (make one with `nats auth nkey gen user`)',
      );
      expect(message).not.toContain(bad);
    }
  });

  it("reports every problem at once, not only the first", () => {
    const message = problemsOf({ replicas: 2, natsImage: "nats:latest", bogus: 1 });
    expect(message).toMatch(/fluo-queue:replicas/);
    expect(message).toMatch(/fluo-queue:natsImage/);
    expect(message).toMatch(/fluo-queue:bogus = 1: unknown key/);
  });

  it("ignores secret keys (read by the program as Pulumi secrets), not rejecting them as unknown", () => {
    expect(parseStackConfig("test", { bffPassword: "x", kubeconfig: "y" }).replicas).toBe(3);
  });

  // Kubernetes rejects the StatefulSet that carries any of these, after render and preview looked fine.
  const notQuantities: Array<[string, string, string | undefined]> = [
    ["storageSize", "3GiB", "3Gi"],
    ["storageSize", "3 Gi", "3Gi"],
    ["memoryLimit", "1100MB", "1100M"],
    ["memoryRequest", "512mb", "512M"],
    ["memoryLimit", "2K", "2k"],
    ["storageSize", "lots", undefined],
  ];
  it.each(notQuantities)("%s = %s is refused as Kubernetes refuses it, with the right spelling", (key, value, spelling) => {
    const message = problemsOf({ [key]: value, ...(key === "memoryLimit" ? { memoryRequest: "1k" } : {}) });
    expect(message).toContain(`fluo-queue:${key} = "${value}": not a Kubernetes quantity`);
    if (spelling) expect(message).toContain(`write "${spelling}"`);
    else expect(message).not.toContain("write");
  });

  it("agrees with the Kubernetes schema: what it accepts and every spelling it suggests validate in a PVC", () => {
    const pvcAccepts = (storage: string): boolean => {
      try {
        new PersistentVolumeClaim({ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage } } } }).validate();
        return true;
      } catch {
        return false;
      }
    };
    const candidates = ["3Gi", "3GiB", "3 Gi", "1100MB", "1100M", "2K", "2k", "12.5Gi", ".5Gi", "4096", "1Ti", "1Pi", "3gi", "10GB", "1e3", "-1Gi", "Gi", ""];
    for (const value of candidates) {
      if (isKubernetesByteQuantity(value)) expect(pvcAccepts(value), value).toBe(true);
      const spelling = kubernetesQuantitySpelling(value);
      if (!isKubernetesByteQuantity(value) && spelling !== undefined) expect(pvcAccepts(spelling), `${value} -> ${spelling}`).toBe(true);
    }
    // The values of the issue: rendered fine before, rejected by Kubernetes.
    for (const value of ["3GiB", "3 Gi", "1100MB"]) expect(pvcAccepts(value), value).toBe(false);
  });

  // CPU amounts are Kubernetes quantities too (apimachinery's grammar: a signed decimal number, then a decimal SI
  // suffix n/u/m/k/M/G/T/P/E, a binary one Ki..Ei, or an exponent e<int>), counted in cores.
  const containerAccepts = (cpu: string): boolean => {
    try {
      new Pod({ metadata: { name: "nats-0" }, spec: { containers: [{ name: "nats", image: "nats:2.15.3-alpine", resources: { requests: { cpu } } }] } }).validate();
      return true;
    } catch {
      return false;
    }
  };

  const kubernetesCpu = ["100m", "0.5", ".5", "1", "2", "1.5", "+1", "0", "250e-3", "2e0", "1E1", "1500000u", "100000000n", "1k"];
  it.each(kubernetesCpu)("cpuRequest and cpuLimit = %s are accepted as Kubernetes accepts them", (cpu) => {
    expect(containerAccepts(cpu)).toBe(true);
    const c = parseStackConfig("test", { cpuRequest: cpu, cpuLimit: cpu });
    expect([c.cpuRequest, c.cpuLimit]).toEqual([cpu, cpu]);
  });

  // Refused, each with the spelling that was meant where there is one: not Kubernetes quantities at all, or
  // quantities Kubernetes takes that no node can schedule (a binary byte suffix, "M" for mega), or negative.
  const notCpu: Array<[string, string, string, string | undefined]> = [
    ["cpuRequest", "100 m", "not a Kubernetes quantity", "100m"],
    ["cpuRequest", "250mc", "not a Kubernetes quantity", "250m"],
    ["cpuLimit", "2 cores", "not a Kubernetes quantity", "2"],
    ["cpuLimit", "1cpu", "not a Kubernetes quantity", "1"],
    ["cpuRequest", "0,5", "not a Kubernetes quantity", "0.5"],
    ["cpuRequest", "1e", "not a Kubernetes quantity", undefined],
    ["cpuRequest", "lots", "not a Kubernetes quantity", undefined],
    ["cpuRequest", "500Mi", '"Mi" is a binary suffix for bytes: 500Mi CPU is 524288000 cores', "500m"],
    ["cpuLimit", "2Gi", '"Gi" is a binary suffix for bytes: 2Gi CPU is 2147483648 cores', undefined],
    ["cpuLimit", "500M", '"M" is mega: 500M CPU is 500000000 cores', "500m"],
    ["cpuRequest", "-100m", "must not be negative", undefined],
  ];
  it.each(notCpu)("%s = %s is refused, saying why, with the right spelling", (key, value, why, spelling) => {
    const message = problemsOf({ [key]: value });
    expect(message).toContain(`fluo-queue:${key} = "${value}": ${why}`);
    if (spelling) expect(message).toContain(`write "${spelling}"`);
    else expect(message).not.toContain("write");
    expect(message).toContain('Allowed: a CPU quantity in cores such as "100m", "0.5" or "2"');
  });

  it("agrees with the Kubernetes schema on CPU: what it accepts and every spelling it suggests validate in a container", () => {
    const candidates = [...kubernetesCpu, ...notCpu.map(([, value]) => value), "1e3m", "2K", "", " 1", "5.", "100 millicores", "2 vCPUs", "1Ei", "1E"];
    for (const value of candidates) {
      const problem = cpuQuantityProblem(value);
      if (!problem) expect(containerAccepts(value), value).toBe(true);
      if (problem?.spelling) expect(containerAccepts(problem.spelling), `${value} -> ${problem.spelling}`).toBe(true);
    }
    // What it calls "not a Kubernetes quantity", Kubernetes refuses too.
    for (const value of candidates) {
      if (cpuQuantityProblem(value)?.reason.startsWith("not a Kubernetes quantity")) expect(containerAccepts(value), value).toBe(false);
    }
  });

  it("takes a CPU amount written as a YAML number (cpuLimit: 2) as the string Pulumi would pass", () => {
    const c = parseStackConfig("test", { cpuRequest: 0.25, cpuLimit: 2 });
    expect([c.cpuRequest, c.cpuLimit]).toEqual(["0.25", "2"]);
    expect(problemsOf({ cpuRequest: -1 })).toContain('fluo-queue:cpuRequest = -1: must not be negative');
  });

  it("refuses a CPU request above the CPU limit (the API server rejects the StatefulSet), comparing in cores", () => {
    expect(problemsOf({ cpuRequest: "2", cpuLimit: "500m" })).toContain('fluo-queue:cpuRequest = "2": must not exceed cpuLimit "500m"');
    expect(parseStackConfig("test", { cpuRequest: "1", cpuLimit: "1000m" }).cpuLimit).toBe("1000m");
    expect(parseStackConfig("test", { cpuRequest: "250e-3", cpuLimit: "0.25" }).cpuRequest).toBe("250e-3");
  });

  it("accepts what Kubernetes accepts for bytes", () => {
    const c = parseStackConfig("test", { storageSize: "12.5Gi", memoryRequest: "1500M", memoryLimit: "3Gi", maxFileStore: "10GiB" });
    expect(c.bytes.storageSize).toBe(12.5 * 2 ** 30);
    expect(c.bytes.memoryRequest).toBe(1.5e9);
  });
});

describe("stack files", () => {
  const root = mkdtempSync(join(tmpdir(), "stack-files-"));
  const write = (stack: string, content: string): void => writeFileSync(join(root, `Pulumi.${stack}.yaml`), content);
  const errorOf = (stack: string): string => {
    try {
      readStackConfig(stack, root, () => undefined);
    } catch (err) {
      expect(err).toBeInstanceOf(StackFileError);
      return (err as Error).message;
    }
    throw new Error(`${stack} was accepted`);
  };

  it("an empty file, a list, and config: given as a list are errors naming the file", () => {
    write("empty", "");
    expect(errorOf("empty")).toMatch(/Pulumi\.empty\.yaml: empty/);
    write("list", "- a\n- b\n");
    expect(errorOf("list")).toMatch(/Pulumi\.list\.yaml: must be a map with a `config:` key, not a list/);
    write("configlist", "config:\n  - fluo-queue:replicas: 3\n");
    expect(errorOf("configlist")).toMatch(/Pulumi\.configlist\.yaml: `config:` must be a map/);
  });

  it("bad YAML is one line naming the file", () => {
    write("bad", "config:\n  fluo-queue:replicas: [3\n");
    const message = errorOf("bad");
    expect(message).toMatch(/Pulumi\.bad\.yaml: not valid YAML: /);
    expect(message).not.toContain("\n");
  });

  it("warns about a password in plain text, with the command that encrypts it", () => {
    write("plain", "config:\n  fluo-queue:workersPassword: s3cret\n  fluo-queue:bffPassword:\n    secure: AAABAA==\n");
    const warnings: string[] = [];
    readStackConfig("plain", root, (line) => warnings.push(line));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("fluo-queue:workersPassword");
    expect(warnings[0]).toContain("`pulumi config set --secret fluo-queue:workersPassword <value> --stack plain`");
  });
});
