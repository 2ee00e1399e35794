// Two regions on one machine, for practising a failover (docs/regions.md): a primary and a standby of three
// servers each, rendered from one stack file as two region stacks would render them (each its own JetStream
// domain, the standby's leafnode connected to the primary, EVENTS and DEADLETTER mirrored), the streams created
// by the provider's own operations. The operations are the operator's: kill a region, promote the standby (what
// `pulumi up` with regionRole primary does to its streams and its nats.conf), read where the messages are.

import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { connect, StringCodec } from "nats";
import { deploymentModel, type DeploymentModel } from "../model";
import { parseStackConfig, type StackConfig } from "../infra/stackConfig";
import { leafLink } from "../infra/renderCluster";
import { passwordHashes } from "../infra/passwordHash";
import { userSpecs, type UserName } from "../infra/users";
import { applyCatalog, type ApplyAction } from "../streams/ops/apply";
import { closeConnections, jetStreamManager, type PasswordConnection } from "../streams/provider/client";
import { LocalCluster, type NodePorts } from "./localCluster";
import { portsFromBase, PORT_RANGE_STRIDE } from "./ports";
import type { LocalPasswords } from "./credentials";

/** One region of the pair as it runs now. */
export interface RegionState {
  readonly name: string;
  readonly role: "primary" | "standby";
  readonly alive: boolean;
  /** Leafnode connections over all its servers (the exporter's nats_varz_leafnodes, summed). */
  readonly leafnodes: number;
  /** Messages per stream, with the mirror's lag where the stream is a mirror. */
  readonly streams: Readonly<Record<string, { readonly messages: number; readonly lastSeq: number; readonly mirrorLag?: number }>>;
}

export interface RegionPairOptions {
  /** The stack file's values (Pulumi.<stack>.yaml), the base of both regions' configs. */
  readonly stackValues: Record<string, unknown>;
  readonly stateDir: string;
  /** Client ports from here: the primary base+i, the standby base+100+i (routes, monitor, leaf: +2000, +4000, +6000). */
  readonly basePort: number;
  readonly passwords: LocalPasswords;
  readonly regions?: { readonly primary: string; readonly standby: string };
  /**
   * The ports the standby dials for the primary's leafnode ports (default: those ports themselves). A benchmark
   * puts a link that can be held back and cut in between (bench/throttledLink.ts).
   */
  readonly linkVia?: (primaryLeafPorts: readonly number[]) => Promise<readonly number[]>;
}

interface Region {
  readonly name: string;
  role: "primary" | "standby";
  config: StackConfig;
  model: DeploymentModel;
  readonly cluster: LocalCluster;
  alive: boolean;
}

/** The four port ranges of one region: client, cluster, monitor and leaf, each `count` wide. */
export function regionPorts(base: number, count: number): NodePorts[] {
  return portsFromBase(base, count).map((p, i) => ({ ...p, leaf: base + 3 * PORT_RANGE_STRIDE + i }));
}

export class RegionPair {
  private constructor(
    private readonly options: RegionPairOptions,
    private readonly leafPassword: string,
    private readonly regions: Region[],
  ) {}

  /** Starts both regions and creates each one's streams; the standby's mirrors start following at once. */
  static async start(options: RegionPairOptions): Promise<RegionPair> {
    const names = options.regions ?? { primary: "eu", standby: "us" };
    const leafPassword = randomBytes(18).toString("base64url");
    const replicas = parseStackConfig("local", options.stackValues).replicas;
    const primaryPorts = regionPorts(options.basePort, replicas);
    const standbyPorts = regionPorts(options.basePort + 100, replicas);
    const leafPorts = primaryPorts.map((p) => p.leaf!);
    const dialed = options.linkVia ? await options.linkVia(leafPorts) : leafPorts;
    const configs = {
      primary: regionConfig(options.stackValues, names.primary, names.standby, leafPassword, {}),
      standby: regionConfig(options.stackValues, names.standby, names.primary, leafPassword, {
        regionRole: "standby",
        clusterName: `${String(options.stackValues.clusterName ?? "fluo-cluster")}-${names.standby}`,
        peerLeafUrls: dialed.map((port) => `nats-leaf://127.0.0.1:${port}`),
      }),
    };
    const hashes = passwordHashes(options.passwords);
    const regions: Region[] = [];
    const pair = new RegionPair(options, leafPassword, regions);
    try {
      for (const [role, ports] of [["primary", primaryPorts], ["standby", standbyPorts]] as const) {
        const config = configs[role];
        const model = deploymentModel(config);
        const stateDir = join(options.stateDir, config.region!);
        mkdirSync(stateDir, { recursive: true, mode: 0o700 });
        const leaf = leafLink(config, { password: leafPassword, denied: model.leafDenied })!;
        const cluster = await LocalCluster.start({ config, grants: model.grants, hashes, stateDir, ports, leaf });
        regions.push({ name: config.region!, role, config, model, cluster, alive: true });
        await cluster.waitForMetaLeader();
        await applyCatalog(pair.connection(regions[regions.length - 1], "fluo-provisioner"), model.catalog, { allowDestroy: [] });
        await cluster.waitForStreamLeaders();
      }
    } catch (err) {
      await pair.stop();
      throw err;
    }
    return pair;
  }

  /** The region of that name, or an error naming the ones there are. */
  private region(name: string): Region {
    const r = this.regions.find((x) => x.name === name);
    if (!r) throw new RegionPairError(`no region "${name}": the regions are ${this.regions.map((x) => x.name).join(" and ")}`);
    return r;
  }

  private connection(region: Region, user: UserName): PasswordConnection {
    const spec = userSpecs().find((s) => s.name === user)!;
    return { servers: region.cluster.servers, user, inboxPrefix: spec.inboxPrefix, password: this.options.passwords[user] };
  }

  get regionNames(): string[] {
    return this.regions.map((r) => r.name);
  }

  /** Client URLs of a region, for the nats CLI or an application. */
  servers(name: string): readonly string[] {
    return this.region(name).cluster.servers;
  }

  /** `count` events published in a region as the backend, each acknowledged by the stream. */
  async publish(name: string, count: number): Promise<{ readonly lastSeq: number }> {
    const region = this.region(name);
    if (!region.alive) throw new RegionPairError(`region ${name} is down; publish in a live region`);
    const login = this.connection(region, "fluo-backend");
    const nc = await connect({ servers: [...login.servers], user: login.user, pass: login.password, inboxPrefix: login.inboxPrefix });
    try {
      const js = nc.jetstream();
      const sc = StringCodec();
      let lastSeq = 0;
      for (let i = 0; i < count; i++) lastSeq = (await js.publish("events.system.tick", sc.encode(`{"practice":${i}}`))).seq;
      return { lastSeq };
    } finally {
      await nc.close();
    }
  }

  /** Every server of a region SIGKILLed at once: the region is lost. */
  async kill(name: string): Promise<void> {
    const region = this.region(name);
    await Promise.all(region.cluster.nodes.map((_, i) => region.cluster.killNode(i)));
    region.alive = false;
    await closeConnections();
  }

  /**
   * The standby becomes the primary as `pulumi up` with regionRole primary makes it: its mirrors become streams
   * in place (the provider's update), and its servers reload a nats.conf without the remote and with the
   * publishers' rights back. Returns the stream and consumer actions, as a preview lists them.
   */
  async promote(name: string): Promise<readonly ApplyAction[]> {
    const region = this.region(name);
    if (region.role === "primary") throw new RegionPairError(`region ${name} is already the primary`);
    if (!region.alive) throw new RegionPairError(`region ${name} is down; promote the region that runs`);
    const peer = this.regions.find((r) => r !== region)!;
    const config = regionConfig(this.options.stackValues, region.name, peer.name, this.leafPassword, { clusterName: region.config.clusterName });
    const model = deploymentModel(config);
    const report = await applyCatalog(this.connection(region, "fluo-provisioner"), model.catalog, { allowDestroy: [] });
    await region.cluster.reloadRegion({ grants: model.grants, leaf: leafLink(config, { password: this.leafPassword, denied: model.leafDenied })! });
    Object.assign(region, { role: "primary", config, model });
    return report.actions.filter((a) => a.action !== "unchanged");
  }

  /** Where the messages are: per region its role, its link and each stream's count. */
  async status(): Promise<RegionState[]> {
    const out: RegionState[] = [];
    for (const region of this.regions) {
      if (!region.alive) {
        out.push({ name: region.name, role: region.role, alive: false, leafnodes: 0, streams: {} });
        continue;
      }
      let leafnodes = 0;
      for (const node of region.cluster.nodes) leafnodes += ((await (await fetch(`${node.monitorUrl}/varz`)).json()) as { leafnodes: number }).leafnodes;
      const jsm = await jetStreamManager(this.connection(region, "fluo-provisioner"));
      const streams: Record<string, { messages: number; lastSeq: number; mirrorLag?: number }> = {};
      for (const s of region.model.catalog.streams) {
        const info = await jsm.streams.info(s.name);
        streams[s.name] = { messages: info.state.messages, lastSeq: info.state.last_seq, ...(info.mirror ? { mirrorLag: info.mirror.lag } : {}) };
      }
      out.push({ name: region.name, role: region.role, alive: true, leafnodes, streams });
    }
    return out;
  }

  /** Stops every server of both regions (the data stays in the state directory until the next start). */
  async stop(): Promise<void> {
    await closeConnections();
    await Promise.all(this.regions.map((r) => r.cluster.stop()));
  }
}

export class RegionPairError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegionPairError";
  }
}

function regionConfig(values: Record<string, unknown>, region: string, peerRegion: string, leafPassword: string, extra: Record<string, unknown>): StackConfig {
  return parseStackConfig("local", { ...values, region, peerRegion, leafPassword, ...extra });
}
