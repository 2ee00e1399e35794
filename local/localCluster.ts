// Runs the cluster's local flavour: N real nats-server processes on 127.0.0.1, each with the nats.conf that
// infra/natsConfig.ts renders for Kubernetes, only with loopback ports, literal server names and a local
// store_dir, so what runs locally is the config that deploys, not a look-alike.

import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { natsConfInput, ROUTE_USER, type ConnectionSecurity, type ExtraLogins } from "../infra/renderCluster";
import type { PasswordHashes } from "../infra/passwordHash";
import type { UserGrant } from "../infra/userGrants";
import { renderNatsConf, type LeafLink, type NatsConfInput, type NatsTopology, type RouteAuth, type TlsFiles } from "../infra/natsConfig";
import type { StackConfig } from "../infra/stackConfig";
import { natsServer, requireBinary } from "../tools/resolve";
import { portsFromBase, PORT_RANGE_STRIDE } from "./ports";

export interface NodePorts {
  readonly client: number;
  readonly cluster: number;
  readonly monitor: number;
  /** The leafnode listener (two regions only: the peer region's standby connects here). */
  readonly leaf?: number;
  /** The WebSocket listener (stack config `websocket`: browsers connect here). */
  readonly websocket?: number;
}

export interface LocalNode {
  readonly name: string;
  readonly ports: NodePorts;
  readonly url: string;
  /** `ws://` or `wss://127.0.0.1:<port>` when the stack enables the WebSocket listener. */
  readonly websocketUrl?: string;
  readonly monitorUrl: string;
  readonly confPath: string;
  readonly logPath: string;
}

export interface LocalClusterOptions {
  readonly config: StackConfig;
  readonly grants: readonly UserGrant[];
  readonly hashes: PasswordHashes;
  /** Data, configs and logs go below it; data survives stop() so a restart finds the streams. */
  readonly stateDir: string;
  /** One entry per server; default: free ports chosen by the OS, one server per config.replicas. */
  readonly ports?: readonly NodePorts[];
  /** Logins beside each user's password (a rotation's second credential, NKEYs). */
  readonly extraLogins?: ExtraLogins;
  /** TLS for clients and routes (local/certificates.ts makes a set); absent = plaintext. */
  readonly tls?: TlsFiles;
  /** Route credentials; default: a fresh random password per start, so only these servers can join. */
  readonly routeAuth?: RouteAuth;
  /** JetStream limits per server, when the stack's are too large for a laptop. */
  readonly limits?: { readonly maxMemoryStore: number; readonly maxFileStore: number };
  readonly onProgress?: (message: string) => void;
  /** The nats-server to run; default natsServerBinary(). */
  readonly binary?: string;
  /**
   * Changes the rendered nats.conf input before it is written: a test's control runs the same probes against
   * another layout (e.g. every identity in one account, as before issue 19) to show the probes can see a finding.
   */
  readonly adjustConfig?: (input: NatsConfInput) => NatsConfInput;
  /**
   * Two regions (docs/regions.md): this cluster's link to its peer. Each server then listens for leafnodes (on
   * its NodePorts.leaf, a free port when `ports` is not given) and, in a standby, connects to `remoteUrls`.
   */
  readonly leaf?: LeafLink;
}

/**
 * NATS_SERVER_BIN, else the pinned build (tools/versions.json; FLUO_NATS_SERVER=previous picks the previous
 * minor line), else PATH; a ToolNotFoundError saying how to get one otherwise.
 */
export function natsServerBinary(): string {
  return requireBinary(natsServer()).path;
}

// Ports are drawn below Linux's ephemeral range (32768-60999): a port the OS hands out for listen(0) may be given
// to an outgoing connection (a client, a route) between our check and nats-server's bind.
const PORT_RANGE = { low: 20000, high: 32000 } as const;

export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** One free loopback port below the ephemeral range, not in `taken` (which it joins). */
export async function freePort(taken: Set<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_RANGE.low + Math.floor(Math.random() * (PORT_RANGE.high - PORT_RANGE.low));
    if (!taken.has(port) && (await canListen(port))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port found in ${PORT_RANGE.low}-${PORT_RANGE.high} on 127.0.0.1`);
}

/** Free loopback ports for `count` servers, all distinct; with `leaf` / `websocket`, such a port for each too. */
export async function freeNodePorts(count: number, leaf = false, websocket = false): Promise<NodePorts[]> {
  const taken = new Set<number>();
  const ports: NodePorts[] = [];
  for (let i = 0; i < count; i++) {
    ports.push({
      client: await freePort(taken),
      cluster: await freePort(taken),
      monitor: await freePort(taken),
      ...(leaf ? { leaf: await freePort(taken) } : {}),
      ...(websocket ? { websocket: await freePort(taken) } : {}),
    });
  }
  return ports;
}

/**
 * A base port (local/ports.ts: client base+i, routes base+2000+i, monitoring base+4000+i) whose ports for
 * `servers` servers are all free right now, every one of them below the ephemeral range like freePort's.
 */
export async function freeBasePort(servers = 3): Promise<number> {
  const highestBase = PORT_RANGE.high - 2 * PORT_RANGE_STRIDE - servers;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = PORT_RANGE.low + Math.floor(Math.random() * (highestBase - PORT_RANGE.low));
    let free = true;
    for (const p of portsFromBase(base, servers).flatMap((n) => [n.client, n.cluster, n.monitor])) free &&= await canListen(p);
    if (free) return base;
  }
  throw new Error(`no free range of ports for ${servers} servers found in ${PORT_RANGE.low}-${PORT_RANGE.high} on 127.0.0.1`);
}

/** The topology of local node `index`: loopback addresses, routes to every local node. */
export function localTopology(ports: readonly NodePorts[], index: number, stateDir: string): NatsTopology {
  return {
    serverName: `nats-${index}`,
    host: "127.0.0.1",
    clientPort: ports[index].client,
    clusterPort: ports[index].cluster,
    monitorPort: ports[index].monitor,
    routes: ports.length > 1 ? ports.map((p) => `nats://127.0.0.1:${p.cluster}`) : [],
    storeDir: join(stateDir, `nats-${index}`, "data"),
    pidFile: join(stateDir, `nats-${index}`, "nats.pid"),
    ...(ports[index].leaf !== undefined ? { leafPort: ports[index].leaf } : {}),
    ...(ports[index].websocket !== undefined ? { websocketPort: ports[index].websocket } : {}),
  };
}

// Children still running when this process exits (a failed test, Ctrl-C) are killed, never orphaned.
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** The servers did not come up: one exited (its log says why) or a wait timed out. Not a bug of ours. */
export class LocalClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LocalClusterError";
  }
}

/** A server could not bind one of its ports (another process took it). */
export class PortInUseError extends LocalClusterError {
  constructor(message: string) {
    super(message);
    this.name = "PortInUseError";
  }
}

function readLog(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

export interface ClusterHealth {
  readonly metaLeader: string | undefined;
  /** Per server, how many other servers it has a route to (not route connections: see health()). */
  readonly routePeers: readonly number[];
}

/** The parts of a server's nats.conf that a reload may change: logins and route credentials. */
interface NodeAuth {
  readonly hashes: PasswordHashes;
  readonly extraLogins?: ExtraLogins;
  readonly routeAuth?: RouteAuth;
  /** The identities' grants (a region's promotion gives publishers back to its mirrors' streams). */
  readonly grants: readonly UserGrant[];
  readonly leaf?: LeafLink;
}

export class LocalCluster {
  private readonly processes: ChildProcess[] = [];
  private readonly exits: Array<Promise<void>> = [];
  /** Servers stopped on purpose by stopNode(): their exit is not a failure. */
  private readonly stopped = new Set<number>();

  private constructor(
    readonly nodes: readonly LocalNode[],
    private readonly onProgress: (message: string) => void,
    private readonly render: (index: number, auth: NodeAuth) => string,
    /** What each server's nats.conf holds now: reloads change parts of it and render the rest as it was. */
    private readonly current: NodeAuth[],
  ) {}

  /**
   * New users' credentials, applied as the config reloader does in a pod: rewrite each nats.conf, SIGHUP each
   * server. Resolves once every server reports a newer config load time (the reload is in effect).
   */
  async reloadAuth(auth: Pick<LocalClusterOptions, "hashes" | "extraLogins">): Promise<void> {
    await this.reload(
      this.nodes.map((_, i) => i),
      (i) => ({ ...this.current[i], hashes: auth.hashes, extraLogins: auth.extraLogins }),
    );
  }

  /**
   * A region's new role, applied as a deploy does it (the Secret changes, each server reloads): new grants and
   * a new leaf link (a promoted standby has no remote any more).
   */
  async reloadRegion(change: { readonly grants: readonly UserGrant[]; readonly leaf: LeafLink }): Promise<void> {
    await this.reload(
      this.nodes.map((_, i) => i),
      (i) => ({ ...this.current[i], grants: change.grants, leaf: change.leaf }),
    );
  }

  /**
   * New route credentials for server `index` only, as its pod's config reloader applies a changed Secret while
   * the other pods still run the old one. Resolves once that server has reloaded.
   */
  async reloadRouteAuth(index: number, routeAuth: RouteAuth): Promise<void> {
    await this.reload([index], (i) => ({ ...this.current[i], routeAuth }));
  }

  private async reload(indexes: readonly number[], next: (index: number) => NodeAuth): Promise<void> {
    const loaded = async (i: number) =>
      ((await getJson(`${this.nodes[i].monitorUrl}/varz`)) as { config_load_time?: string }).config_load_time ?? "";
    const before = await Promise.all(indexes.map(loaded));
    for (const i of indexes) {
      this.current[i] = next(i);
      writeFileSync(this.nodes[i].confPath, this.render(i, this.current[i]), { mode: 0o600 });
      this.processes[i].kill("SIGHUP");
    }
    const what = indexes.length === this.nodes.length ? "every server" : indexes.map((i) => this.nodes[i].name).join(", ");
    await this.waitUntil(`${what} to reload its config`, 20_000, async () => {
      const after = await Promise.all(indexes.map(loaded));
      return after.every((t, k) => t !== before[k]);
    });
  }

  /** Client URLs, comma-separated, as nats clients take them. */
  get servers(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /**
   * Writes each node's nats.conf and starts the servers. Resolves once all are listening. With ports chosen
   * here, a start that loses a port to another process between check and bind is retried on fresh ports.
   */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    if (options.ports) return LocalCluster.startOn(options, options.ports);
    for (let attempt = 1; ; attempt++) {
      try {
        return await LocalCluster.startOn(options, await freeNodePorts(options.config.replicas, options.leaf !== undefined, options.config.websocket));
      } catch (err) {
        if (attempt >= 3 || !(err instanceof PortInUseError)) throw err;
      }
    }
  }

  private static async startOn(options: LocalClusterOptions, ports: readonly NodePorts[]): Promise<LocalCluster> {
    const binary = options.binary ?? natsServerBinary();
    const progress = options.onProgress ?? (() => undefined);
    const config = options.limits
      ? { ...options.config, bytes: { ...options.config.bytes, ...options.limits } }
      : options.config;
    const routeAuth = ports.length > 1 ? (options.routeAuth ?? { user: ROUTE_USER, password: randomBytes(18).toString("base64url") }) : undefined;
    const scheme = options.tls ? "tls" : "nats";
    const render = (i: number, auth: NodeAuth): string => {
      const security: ConnectionSecurity = {
        ...(options.tls ? { tls: options.tls } : {}),
        ...(auth.routeAuth ? { routeAuth: auth.routeAuth } : {}),
        ...(auth.leaf ? { leaf: auth.leaf } : {}),
      };
      const input = natsConfInput(config, localTopology(ports, i, options.stateDir), auth.grants, auth.hashes, security, auth.extraLogins);
      return renderNatsConf(options.adjustConfig ? options.adjustConfig(input) : input);
    };
    const current: NodeAuth[] = ports.map(() => ({ hashes: options.hashes, extraLogins: options.extraLogins, routeAuth, grants: options.grants, ...(options.leaf ? { leaf: options.leaf } : {}) }));
    const nodes: LocalNode[] = ports.map((p, i) => {
      const dir = join(options.stateDir, `nats-${i}`);
      mkdirSync(join(dir, "data"), { recursive: true });
      const confPath = join(dir, "nats.conf");
      writeFileSync(confPath, render(i, current[i]), { mode: 0o600 });
      return {
        name: `nats-${i}`,
        ports: p,
        url: `${scheme}://127.0.0.1:${p.client}`,
        ...(p.websocket !== undefined && config.websocket ? { websocketUrl: `${options.tls && !config.websocketNoTls ? "wss" : "ws"}://127.0.0.1:${p.websocket}` } : {}),
        monitorUrl: `http://127.0.0.1:${p.monitor}`,
        confPath,
        logPath: join(dir, "nats.log"),
      };
    });
    const cluster = new LocalCluster(nodes, progress, render, current);
    try {
      for (const node of nodes) cluster.spawnNode(binary, node);
      await cluster.waitUntil("all servers listening", 20_000, async () => {
        for (const node of nodes) await getJson(`${node.monitorUrl}/varz`);
        return true;
      });
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private spawnNode(binary: string, node: LocalNode, index = this.processes.length): void {
    const log = openSync(node.logPath, "a");
    const child = spawn(binary, ["-c", node.confPath], { stdio: ["ignore", log, log] });
    closeSync(log);
    running.add(child);
    this.stopped.delete(index);
    this.processes[index] = child;
    this.exits[index] = new Promise((resolve) =>
      child.once("exit", () => {
        running.delete(child);
        resolve();
      }),
    );
    this.onProgress(`started ${node.name} (pid ${child.pid}) on ${node.url}, monitor ${node.monitorUrl}`);
  }

  /**
   * Stops server `index` (SIGTERM, then SIGKILL after the timeout) and starts it again on the same ports, config
   * and store: a pod restart. Resolves once it listens again.
   */
  async restartNode(index: number, timeoutMs = 10_000): Promise<void> {
    await this.stopNode(index, timeoutMs);
    await this.startNode(index);
  }

  /** Stops server `index` only (SIGTERM, then SIGKILL after the timeout); its store stays. */
  async stopNode(index: number, timeoutMs = 10_000): Promise<void> {
    const child = this.processes[index];
    if (!child) throw new Error(`no local server ${index} (0-${this.nodes.length - 1})`);
    this.stopped.add(index);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = this.exits[index];
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** Kills server `index` at once (SIGKILL: no lame duck, no flush), as a node or process crash does. */
  async killNode(index: number): Promise<void> {
    const child = this.processes[index];
    if (!child) throw new Error(`no local server ${index} (0-${this.nodes.length - 1})`);
    this.stopped.add(index);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await this.exits[index];
  }

  /** Starts a server stopped or killed before, on its ports, config and store; resolves once it listens. */
  async startNode(index: number): Promise<void> {
    const node = this.nodes[index];
    this.spawnNode(natsServerBinary(), node, index);
    await this.waitUntil(`${node.name} listening again`, 20_000, async () => {
      await getJson(`${node.monitorUrl}/varz`);
      return true;
    });
  }

  /** Process ids of the servers still running. */
  get pids(): number[] {
    return this.processes.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => p.pid!);
  }

  async health(): Promise<ClusterHealth> {
    let metaLeader: string | undefined;
    const routePeers: number[] = [];
    for (const node of this.nodes) {
      const jsz = (await getJson(`${node.monitorUrl}/jsz`)) as { meta_cluster?: { leader?: string } };
      // From 2.10 a server keeps a pool of routes per peer (pool_size, default 3) plus pinned per-account routes,
      // so num_routes counts connections (8 in a healthy 3-node 2.15 cluster); peers are distinct remote ids.
      const routez = (await getJson(`${node.monitorUrl}/routez`)) as { routes?: ReadonlyArray<{ remote_id?: string }> };
      metaLeader ??= jsz.meta_cluster?.leader || undefined;
      routePeers.push(new Set((routez.routes ?? []).map((r) => r.remote_id).filter((id) => id)).size);
    }
    return { metaLeader, routePeers };
  }

  /** Waits until every server routes to every other and a JetStream meta leader is elected. */
  async waitForMetaLeader(timeoutMs = 30_000): Promise<string> {
    const peers = this.nodes.length - 1;
    let leader = "";
    await this.waitUntil("JetStream meta leader", timeoutMs, async () => {
      const h = await this.health();
      if (this.nodes.length > 1 && (h.routePeers.some((r) => r < peers) || !h.metaLeader)) return false;
      // A single server has no meta group; JetStream being enabled is all there is to wait for.
      leader = h.metaLeader ?? this.nodes[0].name;
      for (const node of this.nodes) await getJson(`${node.monitorUrl}/healthz?js-enabled-only=true`);
      // An elected leader is not yet a group that commits assignments: until the leader sees every peer current,
      // a stream create can go unanswered (nats.js TIMEOUT) or fail placement (10005, peer offline). The leader's
      // /jsz lists its view of the other peers (nats-server MetaClusterInfo.Replicas, PeerInfo.Current/Offline).
      if (this.nodes.length > 1) {
        const node = this.nodes.find((n) => n.name === leader);
        if (!node) return false;
        const jsz = (await getJson(`${node.monitorUrl}/jsz`)) as { meta_cluster?: { replicas?: Array<{ current?: boolean; offline?: boolean }> } };
        const replicas = jsz.meta_cluster?.replicas ?? [];
        if (replicas.length < peers || replicas.some((r) => !r.current || r.offline)) return false;
      }
      return true;
    });
    this.onProgress(`JetStream meta leader: ${leader}`);
    return leader;
  }

  /**
   * Waits until every server reports its streams and consumers current (/healthz without options checks each
   * one's Raft group). On a restart every recovered group waits out its own first election timeout (4-9 s,
   * nats-server raft.go initRaftNode), independently of the meta group; a stream info sent before its group has
   * a leader goes unanswered until the client's request timeout (10 s). /healthz reports such a group "not
   * current" (raft.go isCurrent: no commits yet, or no leader); on 2.15.3 it passed 0.1-0.5 s after the last group
   * elected its leader, also on a third start whose groups had Raft snapshots. A fresh state dir has no groups yet.
   */
  async waitForStreamLeaders(timeoutMs = 30_000): Promise<void> {
    const started = Date.now();
    await this.waitUntil("stream and consumer leaders", timeoutMs, async () => {
      for (const node of this.nodes) await getJson(`${node.monitorUrl}/healthz`);
      return true;
    });
    this.onProgress(`streams and consumers current on every server (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }

  private async waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      if (this.pids.length < this.nodes.length - this.stopped.size) {
        const logs = this.nodes.map((n) => n.logPath);
        const message = `a nats-server exited while waiting for ${what}; see ${logs.join(", ")}`;
        throw logs.some((l) => /address already in use/.test(readLog(l))) ? new PortInUseError(message) : new LocalClusterError(message);
      }
      try {
        if (await probe()) return;
      } catch (err) {
        last = err;
      }
      await sleep(200);
    }
    throw new LocalClusterError(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
  }

  /** Stops every server (SIGTERM, then SIGKILL after the timeout); the data directories stay. */
  async stop(timeoutMs = 10_000): Promise<void> {
    for (const child of this.processes) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => {
      for (const child of this.processes) child.kill("SIGKILL");
    }, timeoutMs);
    await Promise.all(this.exits);
    clearTimeout(timer);
  }
}
