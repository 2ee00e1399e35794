// The program through the real Pulumi engine: the pinned CLI drives it (Automation API inline program, through
// the npm scripts the workflows and the README use), the Kubernetes plugin runs in GitOps mode (manifests to a
// directory instead of a cluster), the SDK's dynamic provider host manages streams and consumers on a local
// 3-node cluster on the pinned nats-server. One stack's life, in order: first up, no-op previews, a catalog
// change, an edit of the provider's code, an immutable change guarded then opted in, drift made on the server,
// destroy; then a prod-like stack whose protection refuses destroy.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments, stringify } from "yaml";
import type { JetStreamManager, NatsConnection } from "nats";
import { deploymentModel } from "../model";
import { passwordHashes, SALT_KEY_BYTES } from "../infra/passwordHash";
import { ADMIN_USERS, APP_USERS, userSpecs, type UserName } from "../infra/users";
import { LocalCluster } from "../local/localCluster";
import { clusterLogins } from "../infra/renderCluster";
import { userNkeyFromBytes, userNkeyFromSeed } from "../infra/nkeys";
import { consumerInputs, liveConsumerInputs } from "../streams/provider/consumer";
import { liveStreamInputs, streamInputs } from "../streams/provider/stream";
import { PROVISIONER_INBOX, PROVISIONER_USER } from "../streams/provider/settings";
import { closeConnections, jetStreamManager } from "../streams/provider/client";
import { PROVIDER_MODULE } from "../streams/provider/resources";
import { readStackConfig } from "../infra/stackFile";
import { connectAs, publishStored } from "./natsProbe.testkit";
import { EngineProject, ROOT, stateResources, summary, type CommandOutput, type StateResource } from "./engine.testkit";
import { PROVIDER_TEXTS, earlierProviderTexts } from "../streams/provider/providerHost.testkit";

const STEP = 240_000;
const devConfig = readStackConfig("dev");
const dev = deploymentModel(devConfig);
const prod = deploymentModel(readStackConfig("prod"));

// Distinctive random passwords, so finding one (or its base64) in the state file cannot be a coincidence.
const passwords = Object.fromEntries(
  userSpecs().map((u) => [u.name, `${u.name.replace("fluo-", "")}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`]),
) as Record<UserName, string>;

let project: EngineProject;
let cluster: LocalCluster;
let clusterDir: string;
let jsm: JetStreamManager;

const routePassword = `route-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
const saltKey = randomBytes(SALT_KEY_BYTES).toString("base64");
const clusterHashes = passwordHashes(passwords, saltKey);

/** Every secret the program would otherwise generate with the random provider, which cannot be built here. */
function passwordConfig(): string[] {
  return [
    ...userSpecs().flatMap((u) => ["--secret", `fluo-queue:${u.passwordKey}=${passwords[u.name]}`]),
    "--secret", `fluo-queue:routePassword=${routePassword}`,
    "--secret", `fluo-queue:bcryptSaltKey=${saltKey}`,
  ];
}

function initStack(stack: string, manifests: string): void {
  project.cliOk(["stack", "init", stack, "--secrets-provider", "passphrase"]);
  project.cliOk([
    "config", "set-all", "--stack", stack,
    "--plaintext", `fluo-queue:natsUrl=${cluster.servers.join(",")}`,
    "--plaintext", `fluo-queue:renderYamlToDirectory=${manifests}`,
    ...passwordConfig(),
  ]);
}

/** `npm run <script> -- --stack <stack> ...`; for the `stack` script the operation comes first. */
async function run(script: string, stack: string, ...extra: string[]): Promise<CommandOutput> {
  return project.npm(script, script === "stack" ? [...extra, "--stack", stack] : ["--stack", stack, ...extra]);
}

function expectOk(result: CommandOutput): void {
  if (result.code !== 0) throw new Error(`exit ${result.code}:\n${result.text.slice(-6000)}`);
}

async function publish(user: UserName, subject: string, count: number): Promise<void> {
  const nc: NatsConnection = await connectAs(cluster.servers, user, passwords[user]);
  try {
    const js = nc.jetstream();
    for (let i = 0; i < count; i++) await publishStored(js, subject, new TextEncoder().encode(`engine test ${i}`));
  } finally {
    await nc.close();
  }
}

async function streamNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const name of jsm.streams.names()) names.push(name);
  return names.sort();
}

/** Every YAML object below `dir`, by "kind/namespace/name". */
function objectsIn(dir: string): Map<string, Record<string, unknown>> {
  const objects = new Map<string, Record<string, unknown>>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(entry.name)) {
        for (const doc of parseAllDocuments(readFileSync(path, "utf8"))) {
          const object = doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null;
          if (object?.kind) objects.set(`${object.kind}/${object.metadata?.namespace ?? ""}/${object.metadata?.name}`, object as Record<string, unknown>);
        }
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return objects;
}

/** An object without what only a Secret's value or the provider's bookkeeping holds. */
function comparable(object: Record<string, unknown>): Record<string, unknown> {
  const { data: _data, stringData: _stringData, ...rest } = object;
  const metadata = { ...(rest.metadata as Record<string, unknown>) };
  const annotations = Object.fromEntries(
    Object.entries((metadata.annotations as Record<string, string> | undefined) ?? {}).filter(([k]) => !k.startsWith("pulumi.com/")),
  );
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  else delete metadata.annotations;
  return object.kind === "Secret" ? { ...rest, metadata } : { ...object, metadata };
}

beforeAll(async () => {
  project = EngineProject.create();
  clusterDir = mkdtempSync(join(tmpdir(), "fluo-engine-cluster-"));
  cluster = await LocalCluster.start({
    config: devConfig,
    grants: dev.grants,
    hashes: clusterHashes,
    stateDir: clusterDir,
    // Reservations only (max_bytes is reserved, not written): room for prod's catalog and a memory stream.
    limits: { maxMemoryStore: 1024 * 2 ** 20, maxFileStore: 16 * 2 ** 30 },
  });
  await cluster.waitForMetaLeader();
  jsm = await jetStreamManager({ servers: cluster.servers, user: PROVISIONER_USER, password: passwords["fluo-provisioner"], inboxPrefix: PROVISIONER_INBOX });
  initStack("dev", project.manifests);
}, 1_800_000);

afterAll(async () => {
  await closeConnections();
  await cluster?.stop();
  if (clusterDir) rmSync(clusterDir, { recursive: true, force: true });
  project?.remove();
});

describe("the dev stack through the Pulumi engine", () => {
  it("pulumi up from empty state creates every resource; streams and consumers exist with the declared config", async () => {
    const up = await run("deploy", "dev");
    expectOk(up);
    const resources = stateResources(project, "dev");
    const custom = resources.filter((r) => !r.type.startsWith("pulumi:") && !r.type.startsWith("fluo-queue:"));
    for (const r of custom) expect(r.id, r.urn).toBeTruthy();
    const types = resources.map((r) => r.type);
    for (const component of ["fluo-queue:infra:NatsCluster", "fluo-queue:streams:Catalog", "fluo-queue:alerts:Monitoring"]) {
      expect(types).toContain(component);
    }
    expect(types.filter((t) => t === "pulumi-nodejs:dynamic/fluo-queue:Stream")).toHaveLength(dev.catalog.streams.length);
    expect(types.filter((t) => t === "pulumi-nodejs:dynamic/fluo-queue:Consumer")).toHaveLength(dev.catalog.consumers.length);
    // The summary counts every resource but the default providers; in GitOps mode the refresh before `up`
    // (which runs the program) already recorded the components, which `up` then counts as unchanged.
    const counts = summary(up.text);
    expect(Object.keys(counts).filter((k) => k !== "created" && k !== "unchanged")).toEqual([]);
    expect(counts.created).toBeGreaterThan(dev.catalog.streams.length + dev.catalog.consumers.length);
    expect(counts.created + (counts.unchanged ?? 0)).toBe(resources.filter((r) => !r.urn.endsWith("::default")).length);

    expect(await streamNames()).toEqual(dev.catalog.streams.map((s) => s.name).sort());
    for (const spec of dev.catalog.streams) expect(liveStreamInputs(await jsm.streams.info(spec.name)), spec.name).toEqual(streamInputs(spec));
    for (const spec of dev.catalog.consumers) {
      expect(liveConsumerInputs(await jsm.consumers.info(spec.stream, spec.name)), `${spec.stream}/${spec.name}`).toEqual(consumerInputs(spec));
    }
  }, STEP);

  it("stack outputs are the documented ones; the state file holds no password, in plain text or base64", () => {
    const outputs = JSON.parse(project.cliOk(["stack", "output", "--json", "--show-secrets", "--stack", "dev"])) as Record<string, unknown>;
    expect(Object.keys(outputs).sort()).toEqual(["adminPasswords", "clientUrl", "frontendPasswords", "managedStreams", "namespace", "passwords"]);
    expect(outputs.frontendPasswords).toEqual({ "fluo-frontend": passwords["fluo-frontend"] });
    expect(outputs.namespace).toBe(devConfig.namespace);
    expect(outputs.clientUrl).toMatch(new RegExp(`^(nats|tls)://nats\\.${devConfig.namespace}\\.svc\\.cluster\\.local:4222$`));
    expect(outputs.passwords).toEqual(Object.fromEntries(APP_USERS.map((u) => [u, passwords[u]])));
    expect(outputs.adminPasswords).toEqual(Object.fromEntries(ADMIN_USERS.map((u) => [u, passwords[u]])));
    expect(outputs.managedStreams).toEqual(dev.catalog.streams.map((s) => s.name));
    const plain = JSON.parse(project.cliOk(["stack", "output", "--json", "--stack", "dev"])) as Record<string, unknown>;
    expect(plain.passwords).toBe("[secret]");
    expect(plain.adminPasswords).toBe("[secret]");

    const state = project.stateFile("dev");
    for (const [user, password] of [...Object.entries(passwords), ["route", routePassword], ["salt key", saltKey]]) {
      expect(state, `${user}'s password in plain text`).not.toContain(password);
      expect(state, `${user}'s password in base64`).not.toContain(Buffer.from(password).toString("base64"));
      // base64 of a longer text containing it: the three alignments of the password's own encoding.
      for (const pad of ["", "x", "xx"]) expect(state).not.toContain(Buffer.from(pad + password).toString("base64").slice(4, -4));
    }
  });

  it("each stream and consumer stores the short loader text as its provider, in inputs and outputs", () => {
    const dynamic = stateResources(project, "dev").filter((s) => /^pulumi-nodejs:dynamic\/fluo-queue:(Stream|Consumer)$/.test(s.type));
    expect(dynamic.length).toBe(dev.catalog.streams.length + dev.catalog.consumers.length);
    for (const r of dynamic) {
      const text = r.type.endsWith(":Stream") ? PROVIDER_TEXTS.stream : PROVIDER_TEXTS.consumer;
      expect(r.inputs?.__provider, r.urn).toBe(text);
      expect(r.outputs?.__provider, r.urn).toBe(text);
      expect(text).toContain(JSON.stringify(PROVIDER_MODULE));
    }
  });

  it("GitOps mode wrote the objects npm run render writes (Secret values aside); monitoring objects wrap the rendered files", () => {
    const outDir = mkdtempSync(join(tmpdir(), "fluo-engine-render-"));
    try {
      writeFileSync(join(outDir, "passwords.json"), JSON.stringify(passwords));
      const rendered = spawnRender(join(outDir, "out"), join(outDir, "passwords.json"));
      expect(rendered.code, rendered.text).toBe(0);
      const fromRender = objectsIn(join(outDir, "out"));
      const fromProvider = objectsIn(project.manifests);
      for (const [key, object] of fromRender) {
        expect(fromProvider.has(key), `${key} written by the provider`).toBe(true);
        expect(comparable(fromProvider.get(key)!), key).toEqual(comparable(object));
      }
      // What only the program has: the PrometheusRule and the dashboard ConfigMap, whose content render writes as
      // plain files (the rules file promtool reads, the dashboard JSON Grafana imports).
      const only = [...fromProvider.keys()].filter((k) => !fromRender.has(k)).sort();
      expect(only).toEqual([`ConfigMap/${devConfig.grafanaNamespace}/fluo-queue-nats-dashboard`, `PrometheusRule/${devConfig.namespace}/nats`].sort());
      const rule = fromProvider.get(`PrometheusRule/${devConfig.namespace}/nats`) as { spec: { groups: unknown } };
      const rulesFile = parseAllDocuments(readFileSync(join(outDir, "out", "monitoring", "fluo-queue-nats.rules.yaml"), "utf8"))[0].toJS() as { groups: unknown };
      expect(rule.spec.groups).toEqual(rulesFile.groups);
      const dashboard = fromProvider.get(`ConfigMap/${devConfig.grafanaNamespace}/fluo-queue-nats-dashboard`) as { data: Record<string, string> };
      const dashboardFile = readFileSync(join(outDir, "out", "dashboards", "fluo-queue-nats.json"), "utf8");
      expect(Object.values(dashboard.data).map((json) => JSON.parse(json) as unknown)).toEqual([JSON.parse(dashboardFile) as unknown]);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });

  it("the next preview --expect-no-changes exits 0, and again after a refresh", async () => {
    const first = await run("preview", "dev", "--expect-no-changes");
    expectOk(first);
    expect(summary(first.text)["to update"]).toBeUndefined();
    expectOk(await run("stack", "dev", "refresh"));
    expectOk(await run("preview", "dev", "--expect-no-changes"));
  }, STEP);

  it("state written by the earlier loader (serialized closures) previews no change; up moves its inputs to the short text", async () => {
    const earlier = earlierProviderTexts();
    const exported = JSON.parse(project.cliOk(["stack", "export", "--stack", "dev"])) as { deployment: { resources: StateResource[] } };
    for (const r of exported.deployment.resources.filter((s) => /^pulumi-nodejs:dynamic\/fluo-queue:(Stream|Consumer)$/.test(s.type))) {
      const text = r.type.endsWith(":Stream") ? earlier.stream : earlier.consumer;
      for (const props of [r.inputs, r.outputs]) if (props) props.__provider = text;
    }
    const file = join(project.dir, "earlier-state.json");
    writeFileSync(file, JSON.stringify(exported));
    project.cliOk(["stack", "import", "--stack", "dev", "--file", file]);
    expect(project.stateFile("dev")).toContain(JSON.stringify(earlier.stream).slice(1, 200));

    expectOk(await run("preview", "dev", "--expect-no-changes"));
    const up = await run("deploy", "dev");
    expectOk(up);
    expect(Object.keys(summary(up.text)).filter((k) => !["unchanged"].includes(k))).toEqual([]);
    // Unchanged resources keep their outputs (the earlier text) for refresh and delete; the later tests' update,
    // replace and destroy run on this mixed state.
    const after = stateResources(project, "dev").filter((s) => /^pulumi-nodejs:dynamic\/fluo-queue:(Stream|Consumer)$/.test(s.type));
    for (const r of after) expect([PROVIDER_TEXTS.stream, PROVIDER_TEXTS.consumer], r.urn).toContain(r.inputs?.__provider);
    expect(after.some((r) => r.outputs?.__provider === earlier.consumer)).toBe(true);
    expectOk(await run("preview", "dev", "--expect-no-changes"));
  }, STEP);

  it("a catalog change (JOBS maxAge) is exactly one update, with the old and new readable values in the diff", async () => {
    const before = streamInputs(dev.catalog.streams.find((s) => s.name === "JOBS")!).maxAge;
    project.cliOk(["config", "set", "--stack", "dev", "--path", "fluo-queue:streamOverrides.JOBS.maxAge", "2d"]);
    try {
      const preview = await run("preview", "dev");
      expectOk(preview);
      expect(summary(preview.text)).toMatchObject({ "to update": 1 });
      expect(Object.keys(summary(preview.text)).filter((k) => k.startsWith("to "))).toEqual(["to update"]);
      expect(preview.text).toMatch(/pulumi-nodejs:dynamic\/fluo-queue:Stream.*stream-JOBS|stream-JOBS/);
      expect(preview.text).toMatch(new RegExp(`~ maxAge\\s*: "${before}" => "2d"`));
    } finally {
      project.cliOk(["config", "rm", "--stack", "dev", "--path", "fluo-queue:streamOverrides.JOBS.maxAge"]);
    }
  }, STEP);

  it("a change of the provider's code alone changes nothing; the edited code is what runs for existing resources", async () => {
    project.edit("streams/provider/guards.ts", "export function lossRefusal", "`refusing to ${what}.", "`refusing (edited provider) to ${what}.");
    const before = project.stateFile("dev");
    expectOk(await run("preview", "dev", "--expect-no-changes"));
    expect(project.stateFile("dev")).toBe(before);
  }, STEP);

  it("an immutable change on a stream holding messages fails in preview with the guard's message and changes nothing; the opt-in replaces it", async () => {
    await publish("fluo-bff", "events.user.engine-test", 3);
    // Memory storage, and small enough for dev's memory store (the stream policy checks the capacity first).
    project.edit("streams/catalog.ts", 'name: "EVENTS"', 'storage: "file"', 'storage: "memory"');
    project.cliOk(["config", "set", "--stack", "dev", "--path", "fluo-queue:streamOverrides.EVENTS.maxBytes", "64MiB"]);
    const refused = await run("preview", "dev");
    expect(refused.code).not.toBe(0);
    expect(refused.text).toMatch(/refusing \(edited provider\) to replace[^\n]*stream EVENTS: it holds 3 message\(s\)/);
    let events = await jsm.streams.info("EVENTS");
    expect(events.config.storage).toBe("file");
    expect(events.state.messages).toBe(3);

    project.cliOk(["config", "set", "--stack", "dev", "--path", "fluo-queue:allowDestroy[0]", "EVENTS"]);
    const up = await run("deploy", "dev");
    expectOk(up);
    expect(summary(up.text).replaced).toBeGreaterThanOrEqual(1);
    events = await jsm.streams.info("EVENTS");
    expect(events.config.storage).toBe("memory");
    expect(events.state.messages).toBe(0);
    project.edit("streams/catalog.ts", 'name: "EVENTS"', 'storage: "memory"', 'storage: "file"');
    project.cliOk(["config", "set", "--stack", "dev", "--path", "fluo-queue:streamOverrides.EVENTS.maxBytes", "512MiB"]);
    expectOk(await run("deploy", "dev"));
  }, STEP * 2);

  it("drift made on the server: the drift check exits non-zero naming the field, up --refresh puts it back", async () => {
    const jobs = await jsm.streams.info("JOBS");
    await jsm.streams.update("JOBS", { ...jobs.config, max_age: 3600 * 1e9 });
    const drift = await run("drift:state", "dev");
    expect(drift.code).not.toBe(0);
    expect(drift.text).toMatch(/~ pulumi-nodejs:dynamic\/fluo-queue:Stream stream-JOBS: maxAge: "1d" => "1h"/);
    expectOk(await run("deploy", "dev"));
    expect((await jsm.streams.info("JOBS")).config.max_age).toBe(jobs.config.max_age);
    expectOk(await run("drift:state", "dev"));
  }, STEP * 2);

  it("destroy refuses a stream holding messages, then with the opt-in removes every stream, consumer and manifest", async () => {
    await publish("fluo-bff", "jobs.rule_validation", 2);
    const refused = await run("stack", "dev", "destroy");
    expect(refused.code).not.toBe(0);
    expect(refused.text).toContain("to delete stream JOBS");
    expect(await streamNames()).toContain("JOBS");

    project.cliOk(["config", "set", "--stack", "dev", "--path", "fluo-queue:allowDestroy[1]", "JOBS"]);
    expectOk(await run("stack", "dev", "destroy"));
    expect(await streamNames()).toEqual([]);
    expect(stateResources(project, "dev")).toEqual([]);
    expect([...objectsIn(project.manifests).keys()]).toEqual([]);
  }, STEP);
});

// The config-set path of authentication nkey end to end (the random provider cannot be built here): every seed in
// stack config, the stream provider logging in with provisionerSeed, no password anywhere but the route's.
describe("a dev stack with authentication nkey", () => {
  const seeds = Object.fromEntries(userSpecs().map((u) => [u.name, userNkeyFromBytes(randomBytes(32)).seed])) as Record<UserName, string>;
  const manifests = () => join(project.manifests, "..", "nkey-manifests");

  it("pulumi up with every seed in config: streams created as fluo-provisioner by NKEY, nats.conf holds public keys only", async () => {
    // The cluster accepts both logins from now on: the password stacks before and after this one keep working.
    const publicKeys = Object.fromEntries(userSpecs().map((u) => [u.name, userNkeyFromSeed(seeds[u.name]).publicKey])) as Record<UserName, string>;
    await cluster.reloadAuth(clusterLogins("password+nkey", { hashes: clusterHashes, publicKeys }));
    // The shipped dev stack file (the copy's has the secrets of the runs above) plus the switch.
    const devFile = parse(readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    project.write("Pulumi.nkey.yaml", stringify({ config: { ...devFile.config, "fluo-queue:authentication": "nkey" } }));
    project.cliOk(["stack", "init", "nkey", "--secrets-provider", "passphrase"]);
    project.cliOk([
      "config", "set-all", "--stack", "nkey",
      "--plaintext", `fluo-queue:natsUrl=${cluster.servers.join(",")}`,
      "--plaintext", `fluo-queue:renderYamlToDirectory=${manifests()}`,
      ...userSpecs().flatMap((u) => ["--secret", `fluo-queue:${u.seedKey}=${seeds[u.name]}`]),
      "--secret", `fluo-queue:routePassword=${routePassword}`,
    ]);
    expectOk(await run("deploy", "nkey"));
    expect(await streamNames()).toEqual(dev.catalog.streams.map((s) => s.name).sort());
    expect(stateResources(project, "nkey").filter((r) => r.type.startsWith("random:"))).toEqual([]);
    const secret = [...objectsIn(manifests()).values()].find((o) => o.kind === "Secret" && (o.metadata as { name: string }).name === "nats-config") as
      | { stringData?: Record<string, string>; data?: Record<string, string> }
      | undefined;
    const conf = secret?.stringData?.["nats.conf"] ?? Buffer.from(secret?.data?.["nats.conf"] ?? "", "base64").toString("utf8");
    const accounts = conf.slice(conf.indexOf("accounts {"));
    for (const u of userSpecs()) expect(accounts, u.name).toContain(`nkey: "${publicKeys[u.name]}"`);
    expect(accounts).not.toMatch(/password|user:/);
  }, STEP);

  it("stack outputs are seeds and adminSeeds (secret), no passwords; the state holds no seed, in plain text or base64", () => {
    const outputs = JSON.parse(project.cliOk(["stack", "output", "--json", "--show-secrets", "--stack", "nkey"])) as Record<string, unknown>;
    expect(Object.keys(outputs).sort()).toEqual(["adminSeeds", "clientUrl", "frontendSeeds", "managedStreams", "namespace", "seeds"]);
    expect(outputs.seeds).toEqual(Object.fromEntries(APP_USERS.map((u) => [u, seeds[u]])));
    expect(outputs.adminSeeds).toEqual(Object.fromEntries(ADMIN_USERS.map((u) => [u, seeds[u]])));
    const plain = JSON.parse(project.cliOk(["stack", "output", "--json", "--stack", "nkey"])) as Record<string, unknown>;
    expect(plain.seeds).toBe("[secret]");
    expect(plain.adminSeeds).toBe("[secret]");
    const state = project.stateFile("nkey");
    for (const [user, seed] of Object.entries(seeds)) {
      expect(state, `${user}'s seed in plain text`).not.toContain(seed);
      for (const pad of ["", "x", "xx"]) expect(state, `${user}'s seed in base64`).not.toContain(Buffer.from(pad + seed).toString("base64").slice(4, -4));
    }
  });

  it("destroy removes its streams, so the next stack starts from an empty server", async () => {
    expectOk(await run("stack", "nkey", "destroy"));
    expect(await streamNames()).toEqual([]);
  }, STEP);
});

describe("a prod-like stack", () => {
  it("protect refuses destroy: streams and protected objects stay", async () => {
    initStack("prod", join(project.manifests, "..", "prod-manifests"));
    expectOk(await run("deploy", "prod"));
    expect(await streamNames()).toEqual(prod.catalog.streams.map((s) => s.name).sort());
    const refused = await run("stack", "prod", "destroy");
    expect(refused.code).not.toBe(0);
    expect(refused.text).toMatch(/protected/i);
    expect(await streamNames()).toEqual(prod.catalog.streams.map((s) => s.name).sort());
    const protectedUrns = stateResources(project, "prod").filter((r) => r.protect).map((r) => r.urn);
    expect(protectedUrns.some((u) => u.endsWith("::statefulset"))).toBe(true);
    expect(protectedUrns.filter((u) => u.includes("fluo-queue:Stream::"))).toHaveLength(prod.catalog.streams.length);
  }, STEP * 2);
});

/** `npm run render` of the dev stack in the copy, as the preview workflow runs it. */
function spawnRender(out: string, passwordsFile: string): CommandOutput {
  const args = ["run", "--silent", "render", "--", "--stack", "dev", "--out", out, "--passwords", passwordsFile, "--show-secrets"];
  const r = spawnSync("npm", args, { cwd: project.dir, env: project.env, encoding: "utf8" });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, text: `${r.stdout}${r.stderr}` };
}
