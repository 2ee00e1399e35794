// A standby region's stack through the real Pulumi engine (docs/regions.md): `npm run deploy` creates its mirrors
// through the stream provider, a preview after that shows nothing, and the failover is the reviewed config change
// an operator makes (regionRole primary, peerLeafUrls removed): the preview names EVENTS and DEADLETTER as
// in-place updates of `mirror` (nothing replaced or deleted), `up` keeps every replicated message, and the way
// back (regionRole standby again) is refused in preview because it would replace streams holding messages.
// Two local 3-server regions linked by a leafnode; the primary's streams are made by the provider's operations
// (the single-region stack's engine path is test/engine.live.test.ts).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JetStreamManager } from "nats";
import { deploymentModel } from "../model";
import { passwordHashes, SALT_KEY_BYTES } from "../infra/passwordHash";
import { parseStackConfig, type StackConfig } from "../infra/stackConfig";
import { readStackFileValues } from "../infra/stackFile";
import { leafLink } from "../infra/renderCluster";
import { userSpecs, type UserName } from "../infra/users";
import { freeNodePorts, LocalCluster } from "../local/localCluster";
import { applyCatalog } from "../streams/ops/apply";
import { closeConnections, jetStreamManager, type PasswordConnection } from "../streams/provider/client";
import { connectAs, eventually, publishStored } from "./natsProbe.testkit";
import { EngineProject, ROOT, summary, type CommandOutput } from "./engine.testkit";

const STEP = 300_000;
const passwords = Object.fromEntries(userSpecs().map((u) => [u.name, `${u.name}-${randomBytes(9).toString("base64url")}`])) as Record<UserName, string>;
const routePassword = randomBytes(18).toString("base64url");
const saltKey = randomBytes(SALT_KEY_BYTES).toString("base64");
const hashes = passwordHashes(passwords, saltKey);
const LEAF_PASSWORD = randomBytes(18).toString("base64url");
const dev = readStackFileValues("dev");
const EVENTS_BEFORE = 40;

let project: EngineProject;
let eu: LocalCluster;
let us: LocalCluster;
let usJsm: JetStreamManager;
const dirs: string[] = [];
let peerLeafUrls: string[] = [];

const regionConfig = (region: string, peer: string, extra: Record<string, unknown>): StackConfig =>
  parseStackConfig("dev", { ...dev, region, peerRegion: peer, leafPassword: LEAF_PASSWORD, ...extra });

function provisioner(cluster: LocalCluster): PasswordConnection {
  const spec = userSpecs().find((s) => s.name === "fluo-provisioner")!;
  return { servers: cluster.servers, user: spec.name, inboxPrefix: spec.inboxPrefix, password: passwords["fluo-provisioner"] };
}

async function startRegion(config: StackConfig, ports: Awaited<ReturnType<typeof freeNodePorts>>): Promise<LocalCluster> {
  const model = deploymentModel(config);
  const stateDir = mkdtempSync(join(tmpdir(), `fluo-engine-region-${config.region}-`));
  dirs.push(stateDir);
  const leaf = leafLink(config, { password: LEAF_PASSWORD, denied: model.leafDenied })!;
  // Reservations only, as in engine.live: room for the catalog's max_bytes whatever the disk holds.
  const cluster = await LocalCluster.start({ config, grants: model.grants, hashes, stateDir, ports, leaf, limits: { maxMemoryStore: 1024 * 2 ** 20, maxFileStore: 16 * 2 ** 30 } });
  await cluster.waitForMetaLeader();
  return cluster;
}

async function run(script: "deploy" | "preview", ...extra: string[]): Promise<CommandOutput> {
  return project.npm(script, ["--stack", "us", ...extra]);
}

function expectOk(result: CommandOutput): void {
  if (result.code !== 0) throw new Error(`exit ${result.code}:\n${result.text.slice(-6000)}`);
}

/** Every manifest GitOps mode wrote, by path, with its content. */
function manifests(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out[path] = readFileSync(path, "utf8");
    }
  };
  walk(project.manifests);
  return out;
}

/**
 * The step the preview shows for a stream ("update", "replace", ...), or undefined when it lists no step for it:
 * `--diff` output names a resource's type and step on one line and its URN on one of the next.
 */
function streamStep(text: string, stream: string): string | undefined {
  let step: string | undefined;
  for (const line of text.split("\n")) {
    const header = /^\s*(?:[~+-]+\s*)?[\w-]+:[\w./-]+:[\w]+: \(([\w-]+)\)$/.exec(line);
    if (header) step = header[1];
    else if (line.includes(`[urn=`) && line.endsWith(`::stream-${stream}]`)) return step;
  }
  return undefined;
}

beforeAll(async () => {
  project = EngineProject.create();
  const euPorts = await freeNodePorts(3, true);
  peerLeafUrls = euPorts.map((p) => `nats-leaf://127.0.0.1:${p.leaf}`);
  eu = await startRegion(regionConfig("eu", "us", {}), euPorts);
  const euModel = deploymentModel(regionConfig("eu", "us", {}));
  await applyCatalog(provisioner(eu), euModel.catalog, { allowDestroy: [] });
  await eu.waitForStreamLeaders();
  us = await startRegion(regionConfig("us", "eu", { regionRole: "standby", clusterName: "fluo-cluster-us", peerLeafUrls }), await freeNodePorts(3, true));
  usJsm = await jetStreamManager(provisioner(us));

  // The standby's stack file starts as a copy of dev's (its sizes and overrides), then gets the region keys.
  project.write("Pulumi.us.yaml", readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8"));
  project.cliOk(["stack", "init", "us", "--secrets-provider", "passphrase"]);
  project.cliOk([
    "config", "set-all", "--stack", "us",
    "--plaintext", `fluo-queue:natsUrl=${us.servers.join(",")}`,
    "--plaintext", `fluo-queue:renderYamlToDirectory=${project.manifests}`,
    "--plaintext", "fluo-queue:region=us",
    "--plaintext", "fluo-queue:peerRegion=eu",
    "--plaintext", "fluo-queue:regionRole=standby",
    "--plaintext", "fluo-queue:clusterName=fluo-cluster-us",
    ...peerLeafUrls.flatMap((u, i) => ["--path", "--plaintext", `fluo-queue:peerLeafUrls[${i}]=${u}`]),
    "--secret", `fluo-queue:leafPassword=${LEAF_PASSWORD}`,
    ...userSpecs().flatMap((u) => ["--secret", `fluo-queue:${u.passwordKey}=${passwords[u.name]}`]),
    "--secret", `fluo-queue:routePassword=${routePassword}`,
    "--secret", `fluo-queue:bcryptSaltKey=${saltKey}`,
  ]);
}, 1_800_000);

afterAll(async () => {
  await closeConnections();
  await Promise.all([eu?.stop(), us?.stop()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  project?.remove();
});

describe("a standby region's stack through the Pulumi engine", () => {
  it("npm run deploy creates the standby's mirrors through the provider; the next preview shows no change", async () => {
    const deploy = await run("deploy");
    expectOk(deploy);
    // A password stack has no seed outputs, and the engine is not told about undefined ones.
    expect(deploy.text).not.toMatch(/Undefined value/);
    const events = await usJsm.streams.info("EVENTS");
    expect({ subjects: events.config.subjects ?? [], mirror: events.config.mirror?.name, api: events.config.mirror?.external?.api }).toEqual({
      subjects: [],
      mirror: "EVENTS",
      api: "$JS.eu.API",
    });
    expect((await usJsm.streams.info("JOBS")).config.subjects).toEqual(["jobs.>"]);
    expectOk(await run("preview", "--expect-no-changes"));
  }, STEP);

  it("the failover: the preview names the mirrors' promotion as in-place updates, up keeps every replicated message", async () => {
    const nc = await connectAs(eu.servers, "fluo-bff", passwords["fluo-bff"]);
    for (let i = 0; i < EVENTS_BEFORE; i++) await publishStored(nc.jetstream(), "events.user.login", new TextEncoder().encode(`{"i":${i}}`));
    await nc.close();
    const mirrored = await eventually(() => usJsm.streams.info("EVENTS"), (i) => i.state.messages >= EVENTS_BEFORE, 60_000);
    expect(mirrored.state.messages).toBe(EVENTS_BEFORE);
    await Promise.all(eu.nodes.map((_, i) => eu.killNode(i)));

    project.cliOk(["config", "set", "--stack", "us", "fluo-queue:regionRole", "primary"]);
    project.cliOk(["config", "rm", "--stack", "us", "fluo-queue:peerLeafUrls"]);
    const preview = await run("preview");
    expectOk(preview);
    expect({ EVENTS: streamStep(preview.text, "EVENTS"), DEADLETTER: streamStep(preview.text, "DEADLETTER") }).toEqual({ EVENTS: "update", DEADLETTER: "update" });
    // The regional streams are not touched; nothing is replaced or deleted among the streams.
    expect([streamStep(preview.text, "JOBS"), streamStep(preview.text, "SIGNALS")]).toEqual([undefined, undefined]);
    // The promotion's field diff is readable: the mirror goes, the subjects come.
    expect(preview.text).toMatch(/- mirror\s*: \{\n\s*- domain: "eu"\n\s*- name\s*: "EVENTS"/);
    expect(preview.text).toMatch(/~ subjects\s*: \[\n\s*\+ \[0\]: "events\.>"/);

    const up = await run("deploy");
    expectOk(up);
    // Nothing is replaced: not the streams, and not the nats-config Secret (updated in place, enableSecretMutable).
    expect(summary(up.text).replaced ?? 0).toBe(0);
    const events = await usJsm.streams.info("EVENTS");
    expect({ messages: events.state.messages, subjects: events.config.subjects, mirror: events.config.mirror ?? null }).toEqual({
      messages: EVENTS_BEFORE,
      subjects: ["events.>"],
      mirror: null,
    });
    expectOk(await run("preview", "--expect-no-changes"));
  }, STEP * 2);

  it("demoting the promoted region again is refused in preview: its streams hold messages and cannot become mirrors in place", async () => {
    project.cliOk(["config", "set", "--stack", "us", "fluo-queue:regionRole", "standby"]);
    for (const [i, u] of peerLeafUrls.entries()) project.cliOk(["config", "set", "--stack", "us", "--path", `fluo-queue:peerLeafUrls[${i}]`, u]);
    try {
      const refused = await run("preview");
      expect(refused.code).not.toBe(0);
      expect(refused.text).toMatch(/refusing to replace[^\n]*stream EVENTS: it holds 40 message\(s\)/);
      expect(refused.text).toMatch(/allowDestroy/);
      // Once, in the engine's own error line, and no stack trace (streams/provider/hostErrors.ts).
      expect(refused.text.match(/refusing to replace/g)).toHaveLength(1);
      expect(refused.text).not.toMatch(/\n\s+at \S+ \(/);
      expect((await usJsm.streams.info("EVENTS")).state.messages).toBe(EVENTS_BEFORE);

      // npm run deploy previews first: the same refusal stops it before anything changes. The Secret (its nats.conf
      // would get the remote back), the NetworkPolicy and the rules keep their manifests byte for byte.
      const before = manifests();
      const deploy = await run("deploy");
      expect(deploy.code).not.toBe(0);
      expect(deploy.text).toMatch(/refusing to replace[^\n]*stream EVENTS/);
      expect(deploy.text).not.toMatch(/\$ pulumi up /);
      expect(manifests()).toEqual(before);
      const events = await usJsm.streams.info("EVENTS");
      expect({ messages: events.state.messages, mirror: events.config.mirror ?? null }).toEqual({ messages: EVENTS_BEFORE, mirror: null });
    } finally {
      project.cliOk(["config", "set", "--stack", "us", "fluo-queue:regionRole", "primary"]);
      project.cliOk(["config", "rm", "--stack", "us", "fluo-queue:peerLeafUrls"]);
    }
  }, STEP);
});
