// A monitored cluster on this machine: the dev stack's 3-node cluster (local/localCluster.ts, the rendered
// nats.conf on the pinned nats-server), its stream catalog applied by fluo-provisioner, and optionally one
// prometheus-nats-exporter per server with the StatefulSet sidecar's flags. Shared by `npm run
// monitoring:metrics` and the live monitoring tests.

import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { readStackConfig } from "../../infra/stackFile";
import { passwordHashes } from "../../infra/passwordHash";
import { deploymentModel, type DeploymentModel } from "../../model";
import { EXPORTER_ARGS } from "../../infra/kubernetesObjects";
import type { StackConfig } from "../../infra/stackConfig";
import { userSpecs, type UserName } from "../../infra/users";
import { freePort, LocalCluster, type LocalNode } from "../../local/localCluster";
import { applyCatalog } from "../../streams/ops/apply";
import { closeConnections, type PasswordConnection } from "../../streams/provider/client";
import { httpGet, startProcess, waitFor, type ManagedProcess } from "./processes";

/** Subjects outside the catalog that fluo-bff may also publish here, for test-only streams. */
export const TEST_SUBJECTS = "test.>";

/**
 * The sidecar's flags (infra/kubernetesObjects.ts) made local: the same flags in the same order, with this
 * exporter's port, a loopback listen address and its own server's monitoring URL in place of localhost:8222.
 */
export function localExporterArgs(port: number, monitorUrl: string): string[] {
  const url = EXPORTER_ARGS[EXPORTER_ARGS.length - 1];
  if (!/^https?:\/\//.test(url) || !EXPORTER_ARGS.some((a) => a.startsWith("-port="))) {
    throw new Error(`EXPORTER_ARGS must end with the monitoring URL and set -port=: ${EXPORTER_ARGS.join(" ")}`);
  }
  return ["-addr=127.0.0.1", ...EXPORTER_ARGS.slice(0, -1).map((a) => (a.startsWith("-port=") ? `-port=${port}` : a)), `${monitorUrl}/`];
}

export interface Exporter {
  /** The pod this exporter stands for (its server's name). */
  readonly pod: string;
  readonly port: number;
  readonly url: string;
  process: ManagedProcess;
  /** Starts it again on the same port (after stop()). */
  restart(): Promise<void>;
}

export interface MonitoredCluster {
  readonly config: StackConfig;
  readonly model: DeploymentModel;
  readonly cluster: LocalCluster;
  readonly exporters: readonly Exporter[];
  readonly stateDir: string;
  readonly passwords: Readonly<Record<UserName, string>>;
  settings(user: UserName): PasswordConnection;
  connectAs(user: UserName): Promise<NatsConnection>;
  /** Stops exporters, closes connections, stops the servers and removes the state directory. */
  stop(): Promise<void>;
}

export interface MonitoredClusterOptions {
  /** prometheus-nats-exporter binary; without it no exporters run. */
  readonly exporterBinary?: string;
  readonly stack?: string;
  readonly log?: (line: string) => void;
}

async function startExporter(binary: string, node: LocalNode, dir: string): Promise<Exporter> {
  const port = await freePort();
  const logPath = join(dir, `exporter-${node.name}.log`);
  const url = `http://127.0.0.1:${port}/metrics`;
  const launch = async () => {
    const proc = startProcess(`exporter ${node.name}`, binary, localExporterArgs(port, node.monitorUrl), logPath);
    // The first scrape that carries jsz data proves the exporter reached its server.
    await waitFor(`exporter of ${node.name} on ${url} (log ${logPath})`, 15_000, async () => {
      if (proc.exited) throw new Error(`exited; see ${logPath}`);
      return (await httpGet(url)).includes("nats_server_jetstream_disabled") ? true : undefined;
    });
    return proc;
  };
  const exporter: Exporter = {
    pod: node.name,
    port,
    url,
    process: await launch(),
    async restart() {
      exporter.process = await launch();
    },
  };
  return exporter;
}

export async function startMonitoredCluster(options: MonitoredClusterOptions = {}): Promise<MonitoredCluster> {
  const log = options.log ?? (() => undefined);
  const config = readStackConfig(options.stack ?? "dev");
  const model = deploymentModel(config);
  const passwords = Object.fromEntries(userSpecs().map((u) => [u.name, randomBytes(12).toString("base64url")])) as Record<UserName, string>;
  const stateDir = mkdtempSync(join(tmpdir(), "fluo-monitoring-"));
  // The stack's grants, plus publishing on TEST_SUBJECTS for fluo-bff (test-only streams, e.g. a tiny one to fill).
  const grants = model.grants.map((g) =>
    g.spec.name === "fluo-bff"
      ? { ...g, permissions: { ...g.permissions, publish: { ...g.permissions.publish, allow: [...g.permissions.publish.allow, TEST_SUBJECTS] } } }
      : g,
  );
  const cluster = await LocalCluster.start({
    config,
    grants,
    hashes: passwordHashes(passwords),
    stateDir,
    limits: { maxMemoryStore: config.bytes.maxMemoryStore, maxFileStore: config.bytes.maxFileStore },
    onProgress: (m) => log(`  .. ${m}`),
  });
  const exporters: Exporter[] = [];
  const open: NatsConnection[] = [];
  const settings = (user: UserName): PasswordConnection => ({
    servers: cluster.servers,
    user,
    password: passwords[user],
    inboxPrefix: userSpecs().find((u) => u.name === user)!.inboxPrefix,
  });
  const stop = async () => {
    await Promise.all(exporters.map((e) => e.process.stop()));
    await Promise.all(open.map((nc) => nc.close().catch(() => undefined)));
    await closeConnections();
    await cluster.stop();
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    await cluster.waitForMetaLeader();
    const report = await applyCatalog(settings("fluo-provisioner"), model.catalog, { allowDestroy: [] });
    log(`  .. catalog applied: ${report.counts.create} created (${model.catalog.streams.length} streams, ${model.catalog.consumers.length} consumers)`);
    // A created stream answers before its Raft group has surely elected a leader; under load that took seconds, and
    // a publish in between got 503 (seen once in a full run). /healthz passes once every group has one.
    await cluster.waitForStreamLeaders();
    if (options.exporterBinary) {
      const dir = join(stateDir, "exporters");
      mkdirSync(dir, { recursive: true });
      for (const node of cluster.nodes) exporters.push(await startExporter(options.exporterBinary, node, dir));
      log(`  .. exporters: ${exporters.map((e) => `${e.pod} ${e.url}`).join(", ")}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    config,
    model,
    cluster,
    exporters,
    stateDir,
    passwords,
    settings,
    async connectAs(user) {
      const s = settings(user);
      const nc = await connect({ servers: [...s.servers], user: s.user, pass: s.password, inboxPrefix: s.inboxPrefix, timeout: 5_000 });
      open.push(nc);
      return nc;
    },
    stop,
  };
}
