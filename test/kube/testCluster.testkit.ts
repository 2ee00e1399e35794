// Test kit: a real Kubernetes control plane on 127.0.0.1 for the cluster-mode engine tests: etcd, kube-apiserver
// (RBAC, Pod Security admission on by default) and kube-controller-manager (the StatefulSet's pods, Endpoints,
// service-account tokens, namespace deletion), the pinned builds of tools/versions.json, on free ports, with
// certificates made at start and a kubeconfig. No scheduler and no kubelet exist here: kubeletPlayer.testkit.ts
// plays their parts through the API.
//
// Every process runs in a process group of its own and is killed with its group by stop() and, if the test
// process ends first (a failure, Ctrl-C), on exit. Readiness is polled (/readyz, etcd's /health, the default
// ServiceAccount), never waited for by time.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installTool } from "../../tools/install";
import { pinnedBinary } from "../../tools/resolve";
import { freePort } from "../../local/localCluster";
import { clusterCertificates, type ClusterCertificates } from "./certificates.testkit";
import { KubeApi } from "./apiClient.testkit";

/** The first address of --service-cluster-ip-range, which the API server gives the `kubernetes` Service. */
const SERVICE_RANGE = "10.96.0.0/16";
const SERVICE_IP = "10.96.0.1";

/** Process groups still running; killed when this process exits however it exits. */
const groups = new Set<number>();
process.on("exit", () => {
  for (const pgid of groups) killGroup(pgid, "SIGKILL");
});

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/** The control plane did not come up: a process exited (its log's tail is in the message) or a wait ran out. */
export class TestClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TestClusterError";
  }
}

/** The pinned binary of a tool, built now on first use (minutes for kube-apiserver; cached afterwards). */
export function clusterTool(tool: string, binary = tool): string {
  installTool(tool, { onLine: (line) => process.stderr.write(`${line}\n`) });
  const path = pinnedBinary(tool, binary);
  if (!path) throw new TestClusterError(`${tool}: no complete pinned build after installing it (npm run tools -- ${tool})`);
  return path;
}

interface Running {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  readonly exited: Promise<number | null>;
}

function tail(path: string, lines = 25): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export interface TestClusterOptions {
  /** Run kube-controller-manager (default true): without it no pod, Endpoints or ServiceAccount token exists. */
  readonly controllerManager?: boolean;
  readonly onProgress?: (line: string) => void;
  /** How long each start step may take before the start fails with the process's log (default 90 s). */
  readonly startTimeoutMs?: number;
}

export class TestKubeCluster {
  private readonly processes: Running[] = [];
  private stopping = false;

  private constructor(
    /** Temp folder with certificates, etcd's data, logs and the kubeconfig; removed by stop(). */
    readonly dir: string,
    readonly server: string,
    readonly certificates: ClusterCertificates,
    /** Path of a kubeconfig with the administrator's credentials embedded. */
    readonly kubeconfigPath: string,
    readonly api: KubeApi,
  ) {}

  /** The kubeconfig's text (certificates inline), e.g. for the `kubeconfig` stack config key. */
  get kubeconfig(): string {
    return readFileSync(this.kubeconfigPath, "utf8");
  }

  static async start(options: TestClusterOptions = {}): Promise<TestKubeCluster> {
    const progress = options.onProgress ?? ((line: string) => process.stderr.write(`${line}\n`));
    const timeout = options.startTimeoutMs ?? 90_000;
    const binaries = {
      etcd: clusterTool("etcd"),
      apiserver: clusterTool("kube-apiserver"),
      controllerManager: options.controllerManager === false ? undefined : clusterTool("kube-controller-manager"),
    };
    const dir = mkdtempSync(join(tmpdir(), "fluo-kube-"));
    const certificates = clusterCertificates(join(dir, "pki"), SERVICE_IP);
    const taken = new Set<number>();
    const port = async (): Promise<number> => {
      const p = await freePort(taken);
      taken.add(p);
      return p;
    };
    const [etcdClient, etcdPeer, apiPort] = [await port(), await port(), await port()];
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeconfigText(server, certificates), { mode: 0o600 });
    const api = new KubeApi({ server, caCert: certificates.caCert, clientCert: certificates.adminCert, clientKey: certificates.adminKey });
    const cluster = new TestKubeCluster(dir, server, certificates, kubeconfigPath, api);
    try {
      const started = Date.now();
      const etcdUrl = `http://127.0.0.1:${etcdClient}`;
      cluster.spawn("etcd", binaries.etcd, [
        "--name=test",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=test=http://127.0.0.1:${etcdPeer}`,
        // A throw-away store on a shared 2-core machine: durability buys nothing, fsync latency slows every write.
        "--unsafe-no-fsync",
      ]);
      await cluster.until("etcd", timeout, async () => {
        const response = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
        return response.ok && ((await response.json()) as { health?: string }).health === "true";
      });
      progress(`etcd healthy on ${etcdUrl} (${Date.now() - started} ms)`);

      mkdirSync(join(dir, "apiserver-certs"));
      cluster.spawn("kube-apiserver", binaries.apiserver, [
        `--etcd-servers=${etcdUrl}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--cert-dir=${join(dir, "apiserver-certs")}`,
        `--tls-cert-file=${certificates.serverCert}`,
        `--tls-private-key-file=${certificates.serverKey}`,
        `--client-ca-file=${certificates.caCert}`,
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${certificates.serviceAccountPublicKey}`,
        `--service-account-signing-key-file=${certificates.serviceAccountKey}`,
        `--service-cluster-ip-range=${SERVICE_RANGE}`,
        // The default reconciler refuses a loopback advertise address ("cannot use public IP 127.0.0.1 with
        // endpoint reconciler"); the tests need no `kubernetes` Endpoints.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
      ]);
      await cluster.until("kube-apiserver /readyz", timeout, async () => (await api.raw("GET", "/readyz")).status === 200);
      progress(`kube-apiserver ready on ${server} (${Date.now() - started} ms since etcd start)`);

      if (binaries.controllerManager) {
        cluster.spawn("kube-controller-manager", binaries.controllerManager, [
          `--kubeconfig=${kubeconfigPath}`,
          "--leader-elect=false",
          // No HTTPS endpoint: nothing here scrapes it, and its port would be one more to find free.
          "--secure-port=0",
          `--service-account-private-key-file=${certificates.serviceAccountKey}`,
          `--root-ca-file=${certificates.caCert}`,
          `--service-cluster-ip-range=${SERVICE_RANGE}`,
          // No kubelet renews the Node's lease: node lifecycle would taint the node and evict its pods mid-test.
          "--controllers=*,-node-lifecycle-controller",
        ]);
        // The serviceaccount controller is the first thing a pod needs (its namespace's `default` account).
        await cluster.until("kube-controller-manager (the default ServiceAccount)", timeout, async () => (await api.raw("GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200);
        progress(`kube-controller-manager running (${Date.now() - started} ms since etcd start)`);
      }
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  private spawn(name: string, binary: string, args: readonly string[]): void {
    const log = join(this.dir, `${name}.log`);
    const out = openSync(log, "a");
    // detached: a process group of its own, so stop() and the exit hook kill it and anything it started.
    const child = spawn(binary, args, { cwd: this.dir, detached: true, stdio: ["ignore", out, out] });
    if (child.pid === undefined) throw new TestClusterError(`${name} (${binary}) could not be started`);
    groups.add(child.pid);
    const pid = child.pid;
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => {
        groups.delete(pid);
        resolve(code);
      }),
    );
    this.processes.push({ name, child, log, exited });
  }

  /** Polls `ready` until it holds; fails at once when a process of the cluster exits, with its log's tail. */
  private async until(what: string, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
      const dead = this.processes.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
      if (dead) throw new TestClusterError(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}) while waiting for ${what}:\n${tail(dead.log)}`);
      try {
        if (await ready()) return;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) {
        const logs = this.processes.map((p) => `--- ${p.name} (${p.log})\n${tail(p.log, 10)}`).join("\n");
        throw new TestClusterError(`${what} not ready after ${timeoutMs / 1000} s${last ? ` (last error: ${last})` : ""}\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The log file of one process ("etcd", "kube-apiserver", "kube-controller-manager"). */
  logOf(name: string): string {
    return join(this.dir, `${name}.log`);
  }

  /** Kills every process group (controller manager first, etcd last), waits for each exit, removes the folder. */
  async stop(options: { readonly keepDir?: boolean } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.api.close();
    for (const p of [...this.processes].reverse()) {
      if (p.child.pid !== undefined && p.child.exitCode === null && p.child.signalCode === null) killGroup(p.child.pid, "SIGKILL");
      await p.exited;
    }
    if (!options.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A kubeconfig for the administrator with every certificate inline, so its text alone reaches the cluster. JSON
 * (which is YAML) on one line, so it passes through `pulumi config set --secret` unchanged.
 */
function kubeconfigText(server: string, certificates: ClusterCertificates): string {
  const b64 = (path: string) => readFileSync(path).toString("base64");
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "fluo-test", cluster: { server, "certificate-authority-data": b64(certificates.caCert) } }],
      users: [{ name: "fluo-test-admin", user: { "client-certificate-data": b64(certificates.adminCert), "client-key-data": b64(certificates.adminKey) } }],
      contexts: [{ name: "fluo-test", context: { cluster: "fluo-test", user: "fluo-test-admin" } }],
      "current-context": "fluo-test",
    },
  );
}
