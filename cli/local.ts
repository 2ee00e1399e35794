// npm run local [-- --stack dev] [--state-dir <dir>] [--reset] [--base-port 4222] [--tls] [--auth <mode>] [--smoke]
// The real cluster on a laptop: the stack's nats.conf (same users, permissions, JetStream limits scaled to the
// machine) run as three nats-server processes on 127.0.0.1, and the whole stream catalog applied through the
// same provider code as `pulumi up`. Prints one line starting with "Ready:" once usable, then runs until
// SIGINT/SIGTERM and stops the servers; data and credentials stay in the state directory for the next run.
// --tls: client TLS, mutual TLS on routes and route credentials, as prod runs it, with a CA made once in the
// state directory (local/certificates.ts); the context files then carry `ca`.
// Logins follow the stack's `authentication` (or --auth): passwords (bcrypt hashes in nats.conf), NKEYs (public
// keys in nats.conf, seeds made once in the state directory) or both; the context files say how to log in.
// The stack's rotatingUsers get their `<user>-next` login as in the cluster, with credentials and contexts of
// their own, so a rotation can be practised here and the local nats.conf lists the cluster's logins.

import { existsSync, statfsSync } from "node:fs";
import { freemem } from "node:os";
import { join, relative } from "node:path";
import { deploymentModel, type DeploymentModel } from "../model";
import { exitWhenFlushed, isUserError, runCli } from "./errors";
import { AUTHENTICATION_MODES, imageTagVersion, usesNkeys, usesPasswords, type Authentication, type StackConfig } from "../infra/stackConfig";
import { parseSize } from "../lib/units";
import { nextLoginOf, pickCredentials, USER_NAMES, userSpecs, type UserName } from "../infra/users";
import { localCertificates, type GeneratedCertificates } from "../local/certificates";
import {
  forgetNextCredentials,
  loadOrCreateNextPasswords,
  loadOrCreateNextSeeds,
  loadOrCreatePasswords,
  loadOrCreateSeeds,
  writeContextFiles,
  type LocalContexts,
  type LocalPasswords,
  type LocalSeeds,
} from "../local/credentials";
import { clusterLogins, noPasswords } from "../infra/renderCluster";
import { localLoginHashes } from "../local/passwordHashCache";
import { localLimits, reservationProblems } from "../local/limits";
import { canListen, LocalCluster, LocalClusterError } from "../local/localCluster";
import { DEFAULT_BASE_PORT, portsFromBase, websocketPortsFromBase } from "../local/ports";
import { lastRecord, prepareStateDir, resetStateDir, runningServers, stateLayout, writeRecord, type StateLayout } from "../local/stateDir";
import { applyCatalog } from "../streams/ops/apply";
import { closeConnections, jetStreamManager, type ConnectionSettings } from "../streams/provider/client";
import type { Catalog } from "../streams/spec";
import { runSmoke } from "./smoke";
import { parseCommandLine, UsageError, type CommandSpec } from "./args";
import { projectRoot, readStackConfig } from "../infra/stackFile";
import { ensureBinary } from "../tools/install";
import { natsServer, natsServerVersion, ToolNotFoundError, type ResolvedBinary } from "../tools/resolve";

export const LOCAL: CommandSpec<"stack" | "state-dir" | "reset" | "base-port" | "tls" | "auth" | "smoke"> = {
  command: "npm run local --",
  summary: "runs the stack's cluster on this machine (nats-server processes on 127.0.0.1, catalog applied) until Ctrl-C",
  options: {
    stack: { value: "<name>", help: "the stack whose config runs: Pulumi.<name>.yaml (default dev)" },
    "state-dir": { value: "<dir>", help: "data, configs, logs and credentials (default .local); kept between runs" },
    reset: { help: "empty the state directory first (data and credentials)" },
    "base-port": { value: "<port>", help: "client ports base+i, routes base+2000+i, monitoring base+4000+i (default 4222)" },
    tls: {
      help: "TLS for clients and routes (mutual TLS, route credentials) with a local CA made once in <state-dir>/tls; clients use tls:// and trust <state-dir>/tls/ca.crt",
    },
    auth: {
      value: `<${AUTHENTICATION_MODES.join("|")}>`,
      help: "how the users log in for this run, instead of the stack's fluo-queue:authentication: passwords, NKEYs (seeds made once in <state-dir>/credentials) or both",
    },
    smoke: { help: "run the smoke check once Ready, then stop (exit 0 if it passed)" },
  },
  notes: [
    'prints a line starting with "Ready:" once usable; credentials are nats CLI context files in <state-dir>/credentials (with --tls their `ca` names the CA; with NKEYs their `nkey` names the user\'s seed file there)',
    "with or without --tls, with any --auth on the same state directory: every start rewrites the configs and context files, the data stays",
  ],
};

const log = (line: string): void => console.log(line);
const progress = (line: string): void => console.log(`  .. ${line}`);

/**
 * Resolves with the signal's name on the first SIGINT/SIGTERM. The handlers stay installed, so a second Ctrl-C
 * while the servers stop does not kill this process and orphan them.
 */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => () => resolve(signal);
    process.on("SIGINT", on("SIGINT"));
    process.on("SIGTERM", on("SIGTERM"));
  });
}

function machineLimits(config: StackConfig, stateDir: string): ReturnType<typeof localLimits> {
  const fs = statfsSync(stateDir);
  return localLimits(config.bytes, { freeDiskBytes: fs.bavail * fs.bsize, freeMemoryBytes: freemem() }, config.replicas);
}

const shown = (path: string): string => {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel;
};

/** The credentials of this start: passwords when the mode uses them, seeds when it uses NKEYs. */
interface StartCredentials {
  readonly authentication: Authentication;
  readonly passwords?: LocalPasswords;
  readonly seeds?: LocalSeeds;
}

/**
 * The provisioner's connection to the local cluster, as applyCatalog and printCatalog use it: with its password
 * while the mode has one (password+nkey too, as the stack's stream provider does), else with its seed.
 */
function provisionerSettings(servers: readonly string[], credentials: StartCredentials, caFile: string | undefined): ConnectionSettings {
  const provisioner = userSpecs().find((s) => s.name === "fluo-provisioner")!;
  const target = { servers, user: provisioner.name, inboxPrefix: provisioner.inboxPrefix, ...(caFile ? { caFile } : {}) };
  if (credentials.passwords) return { ...target, password: credentials.passwords[provisioner.name] };
  if (credentials.seeds) return { ...target, seed: credentials.seeds[provisioner.name].seed };
  throw new Error(`authentication ${credentials.authentication}: no password and no seed for ${provisioner.name}`);
}

async function printCatalog(catalog: Catalog, settings: ConnectionSettings): Promise<void> {
  const jsm = await jetStreamManager(settings);
  log("Streams:");
  for (const s of catalog.streams) {
    const info = await jsm.streams.info(s.name);
    log(
      `  ${s.name.padEnd(11)} ${s.subjects.join(",").padEnd(12)} ${s.retention}/${s.storage} R${s.replicas}` +
        ` max_age ${s.maxAge} max_bytes ${s.maxBytes} discard ${s.discard}` +
        ` | ${info.state.messages} msgs, leader ${info.cluster?.leader ?? "-"}`,
    );
  }
  log("Consumers:");
  for (const c of catalog.consumers) {
    const info = await jsm.consumers.info(c.stream, c.name);
    log(
      `  ${`${c.stream}/${c.name}`.padEnd(28)} pull by ${c.consumer.padEnd(13)} filter ${(c.filterSubject ?? "(all)").padEnd(22)}` +
        ` deliver ${c.deliverPolicy} ack ${c.ackPolicy} ${c.ackWait} max_deliver ${c.maxDeliver}` +
        ` | ${info.num_pending} pending, ${info.num_ack_pending} unacked`,
    );
  }
}

/**
 * The nats.js lines that connect with a context file of local mode: a password context's user and password, or an
 * NKEY context's seed file read and given to nkeyAuthenticator (the context holds the file's path, as natscli wants).
 */
export function nodeConnectLines(contextPath: string, login: "password" | "nkey", tls: boolean): string[] {
  const auth = login === "nkey" ? `authenticator: nkeyAuthenticator(new TextEncoder().encode(readFileSync(c.nkey, "utf8").trim()))` : "user: c.user, pass: c.password";
  return [
    `const c = JSON.parse(readFileSync("${contextPath}", "utf8"));`,
    `const nc = await connect({ servers: c.url.split(","), ${auth}, inboxPrefix: c.inbox_prefix${tls ? ", tls: { caFile: c.ca }" : ""} });`,
  ];
}

function printAccess(cluster: LocalCluster, written: LocalContexts, authentication: Authentication, caFile: string | undefined): void {
  const { contexts, nkeyContexts } = written;
  log("Servers:");
  cluster.nodes.forEach((node, i) =>
    log(`  ${node.name}  ${node.url}  monitor ${node.monitorUrl}  pid ${cluster.pids[i] ?? "?"}  log ${shown(node.logPath)}`),
  );
  const browsers = cluster.nodes.map((n) => n.websocketUrl).filter((u) => u !== undefined);
  if (browsers.length > 0) log(`Browsers (fluo-frontend only, docs/websocket.md): ${browsers.join(" ")}`);
  const kinds = { password: "user and password", nkey: "NKEY: nkey names the user's seed file", "password+nkey": "user and password; *.nkey.json: NKEY, nkey names the seed file" };
  log(`Credentials (authentication ${authentication}; nats CLI context files, mode 0600; ${kinds[authentication]}):`);
  const rotating = userSpecs().filter((s) => written.nextContexts?.[s.name] !== undefined);
  const width = Math.max(...userSpecs().map((s) => s.name.length), ...rotating.map((s) => nextLoginOf(s.name).length));
  for (const spec of userSpecs()) {
    log(`  ${spec.name.padEnd(width)} ${shown(contexts[spec.name])}${nkeyContexts ? `  ${shown(nkeyContexts[spec.name])}` : ""}`);
  }
  for (const { name } of rotating) {
    const nkey = written.nextNkeyContexts?.[name];
    log(`  ${nextLoginOf(name).padEnd(width)} ${shown(written.nextContexts![name]!)}${nkey ? `  ${shown(nkey)}` : ""}  (rotatingUsers: second login of ${name})`);
  }
  const primary = usesPasswords(authentication) ? "password" : "nkey";
  const ways: Array<{ readonly files: Record<UserName, string>; readonly login: "password" | "nkey" }> = [
    { files: contexts, login: primary },
    ...(nkeyContexts ? [{ files: nkeyContexts, login: "nkey" as const }] : []),
  ];
  for (const { files, login } of ways) {
    const [read, connect] = nodeConnectLines(shown(files["fluo-workers"]), login, caFile !== undefined);
    log(`  nats CLI:  nats --context ${shown(files["fluo-provisioner"])} stream ls`);
    log(`  nats.js:   ${read}`);
    log(`             ${connect}`);
  }
  if (!caFile) return;
  log(`TLS: clients must use TLS and trust the local CA ${caFile} (the context files name it as "ca"):`);
  log(`  npm run smoke/drift/backup/bench: nothing to add (they read the context files); with --url ${cluster.servers[0]} add --ca ${shown(caFile)}`);
  log(`  Node programs given no CA option (pulumi up's provider host): NODE_EXTRA_CA_CERTS=${caFile}`);
}

/** --tls: the state directory's certificates, made on the first start and reused after. */
function localTls(layout: StateLayout): GeneratedCertificates {
  const certificates = localCertificates(layout.tls);
  if (certificates.replaced) log(`warning: --tls: ${certificates.replaced}: made a new CA and server certificate`);
  progress(
    certificates.made
      ? `TLS: made a CA and a server certificate for 127.0.0.1 and localhost in ${shown(layout.tls)} (reused by later starts)`
      : `TLS: reusing the CA and server certificate in ${shown(layout.tls)}`,
  );
  return certificates.files;
}

const SOURCE_TEXT: Record<ResolvedBinary["source"], string> = { env: "NATS_SERVER_BIN", pinned: "pinned build", PATH: "from PATH" };

/**
 * What local mode says about the server it runs: its version and where it came from, and a warning when that is
 * not the image's version, because JetStream's rules (what may change in place, defaults, the permissions clients
 * need) move between minor lines, so a local result may not hold on the cluster.
 */
export function serverVersionLines(version: string, server: ResolvedBinary, natsImage: string): { progress: string; warning?: string } {
  const progress = `nats-server ${version} (${SOURCE_TEXT[server.source]}: ${server.path})`;
  const imageVersion = imageTagVersion(natsImage);
  if (imageVersion === undefined) return { progress, warning: `warning: natsImage ${natsImage} names no version to compare with the local nats-server ${version}` };
  if (imageVersion === version) return { progress };
  return {
    progress,
    warning:
      `warning: the local nats-server is ${version}, the cluster's image ${natsImage} runs ${imageVersion}: behaviour may ` +
      "differ; `npm run tools -- nats-server` builds the image's version (README: Test tools)",
  };
}

function reportServerVersion(server: ResolvedBinary, natsImage: string): void {
  const lines = serverVersionLines(natsServerVersion(server.path), server, natsImage);
  progress(lines.progress);
  if (lines.warning) log(lines.warning);
}

interface LocalArgs {
  readonly config: StackConfig;
  readonly layout: StateLayout;
  readonly reset: boolean;
  readonly basePort: number;
  readonly tls: boolean;
  readonly smoke: boolean;
}

/** --auth's value: one of the stack config's authentication modes. */
function authenticationFlag(value: string): Authentication {
  const mode = AUTHENTICATION_MODES.find((m) => m === value);
  if (!mode) throw new UsageError(`--auth "${value}": must be one of ${AUTHENTICATION_MODES.join(", ")}`);
  return mode;
}

function parseArgs(argv: readonly string[]): LocalArgs {
  const { values, switches } = parseCommandLine(LOCAL, argv);
  const basePort = values["base-port"] === undefined ? DEFAULT_BASE_PORT : Number(values["base-port"]);
  if (!/^\d+$/.test(values["base-port"] ?? "0") || !Number.isInteger(basePort)) throw new UsageError(`--base-port "${values["base-port"]}": must be a port number`);
  const authentication = values.auth === undefined ? undefined : authenticationFlag(values.auth);
  const stack = readStackConfig(values.stack ?? "dev", undefined, (line) => console.error(`warning: ${line}`));
  return {
    // The stack's nats.conf with this run's logins: --auth stands in for fluo-queue:authentication.
    config: withLocalWebsocket(authentication ? { ...stack, authentication } : stack),
    layout: stateLayout(values["state-dir"] ?? join(projectRoot(), ".local")),
    reset: switches.has("reset"),
    basePort,
    tls: switches.has("tls"),
    smoke: switches.has("smoke"),
  };
}

/** Page origins local mode admits to its WebSocket listener when the stack lists none: docs/websocket.md's demo page. */
export const LOCAL_PAGE_ORIGINS = ["http://127.0.0.1:8080", "http://localhost:8080"];

/**
 * Local mode always serves browsers (docs/websocket.md): a stack that enables the listener keeps its settings; one
 * that does not gets a plain ws:// listener for the demo page's origins (a browser would not trust the local CA).
 */
function withLocalWebsocket(config: StackConfig): StackConfig {
  if (config.websocket) return config;
  return { ...config, websocket: true, websocketNoTls: true, websocketAllowedOrigins: LOCAL_PAGE_ORIGINS };
}

/** A second start on a running cluster's state directory: refused, naming what runs where. */
function alreadyRunning(layout: StateLayout): string | undefined {
  const running = runningServers(layout);
  if (running.length === 0) return undefined;
  const record = lastRecord(layout);
  const pids = running.map((r) => r.pid);
  return (
    `already running: ${running.map((r) => `${r.name} pid ${r.pid}`).join(", ")}` +
    `${record.servers ? `, clients ${record.servers.join(",")}` : ""}${record.monitors ? `, monitoring ${record.monitors.join(",")}` : ""}` +
    `; state dir ${shown(layout.root)}. Use it as it is (npm run smoke), stop it (Ctrl-C in its terminal, or kill ${pids.join(" ")}), ` +
    "or start another with its own --state-dir and --base-port"
  );
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: LocalArgs | undefined;
  const parsed = await runCli("local", () => {
    args = parseArgs(argv);
    return 0;
  });
  if (parsed !== 0 || !args) return parsed;
  return start(args);
}

async function start(args: LocalArgs): Promise<number> {
  const stopped = stopSignal();
  const { config, layout } = args;
  let ports;
  try {
    const websocketPorts = websocketPortsFromBase(args.basePort, config.replicas);
    ports = portsFromBase(args.basePort, config.replicas).map((p, i) => ({ ...p, websocket: websocketPorts[i] }));
  } catch (err) {
    console.error(`local: --base-port ${(err as Error).message}`);
    return 1;
  }

  const running = alreadyRunning(layout);
  if (running) {
    console.error(`local: ${running}`);
    return 1;
  }
  log(`fluo-queue local: stack ${config.stack}, ${config.replicas} servers, state in ${shown(layout.root)}`);
  let server: ResolvedBinary;
  try {
    server = ensureBinary(natsServer(), progress);
    reportServerVersion(server, config.natsImage);
  } catch (err) {
    if (!(err instanceof ToolNotFoundError)) throw err;
    console.error(`local: ${err.message}`);
    return 1;
  }
  try {
    if (args.reset) {
      resetStateDir(layout);
      log("  .. --reset: state directory emptied (data, credentials)");
    }
    prepareStateDir(layout);
  } catch (err) {
    console.error(`local: ${(err as Error).message}`);
    return 1;
  }
  let model: DeploymentModel;
  try {
    // The same model as `pulumi up`: catalog with the stack's overrides, stream policy, derived grants.
    model = deploymentModel(config);
  } catch (err) {
    if (!isUserError(err)) throw err;
    console.error(`local: ${err.message}`);
    return 1;
  }
  const { catalog, grants } = model;
  const limits = machineLimits(config, layout.root);
  for (const line of limits.explanation) log(`  .. JetStream ${line}`);
  const reservation = catalog.streams.map((st) => ({ name: st.name, storage: st.storage, maxBytes: parseSize(st.maxBytes) ?? 0 }));
  const problems = reservationProblems(reservation, limits);
  if (problems.length > 0) {
    for (const p of problems) console.error(`local: ${p}`);
    return 1;
  }
  // Fixed ports (from --base-port): one taken by another cluster or program is named now, before servers
  // start, rather than as "a nats-server exited" after they have overwritten their pid files.
  for (const [i, p] of ports.entries()) {
    for (const [role, port] of [["client", p.client], ["route", p.cluster], ["monitoring", p.monitor]] as const) {
      if (!(await canListen(port))) {
        console.error(`local: port ${port} (${role} port of nats-${i}) is in use on 127.0.0.1: another \`npm run local\` or server runs there; pick another --base-port or stop it`);
        return 1;
      }
    }
  }
  // After the checks that can refuse the start (model, limits, ports): a refused start makes no certificates.
  const previous = lastRecord(layout);
  let certificates: GeneratedCertificates | undefined;
  try {
    certificates = args.tls ? localTls(layout) : undefined;
  } catch (err) {
    console.error(`local: --tls: ${(err as Error).message}`);
    return 1;
  }
  if (!args.tls && existsSync(join(layout.tls, "ca.crt"))) progress(`TLS off (plaintext clients and routes); the certificates in ${shown(layout.tls)} stay for the next --tls`);
  const wasTls = previous.servers?.[0]?.startsWith("tls://");
  if (wasTls !== undefined && wasTls !== args.tls) {
    // Every server restarts at once with a freshly rendered nats.conf, so no route ever joins TLS to plaintext
    // (the reason a Kubernetes cluster needs a restart of all pods for it); the JetStream store does not depend on
    // the transport, and every context file is rewritten below.
    progress(`the last start ran ${wasTls ? "with" : "without"} TLS: switching; the context files get ${args.tls ? "tls:// URLs and ca" : "nats:// URLs without ca"}`);
  }
  const caFile = certificates?.caFile;
  const authentication = config.authentication;
  const wasAuthentication = previous.servers ? (previous.authentication ?? "password") : undefined;
  if (wasAuthentication !== undefined && wasAuthentication !== authentication) {
    progress(`the last start logged in with authentication ${wasAuthentication}: switching to ${authentication}; every context file is rewritten for it`);
  }
  // Each kind of credential is made on the first start that uses it and kept, also while another mode runs, so
  // switching back finds the same passwords and seeds (and bcrypt hashes).
  // The stack's rotatingUsers have a `<user>-next` credential of each kind too, made and kept the same way.
  const rotating = config.rotatingUsers;
  const forgotten = forgetNextCredentials(layout, rotating);
  if (forgotten.length > 0) {
    progress(
      `rotatingUsers: ${forgotten.join(", ")} no longer rotating: ${forgotten.map(nextLoginOf).join(", ")}'s password and seed deleted, ` +
        "as the cluster deletes them (a new rotation gets new ones)",
    );
  }
  const passwords = usesPasswords(authentication) ? loadOrCreatePasswords(layout) : undefined;
  const nextPasswords = passwords ? loadOrCreateNextPasswords(layout, rotating) : undefined;
  const seeds = usesNkeys(authentication) ? loadOrCreateSeeds(layout) : undefined;
  const nextSeeds = seeds ? loadOrCreateNextSeeds(layout, rotating) : undefined;
  let hashes = noPasswords();
  let nextHashes: Partial<Record<UserName, string>> = {};
  if (passwords) {
    progress("hashing passwords (bcrypt; the last start's hashes of unchanged passwords are reused)");
    const byLogin = localLoginHashes(layout, pickCredentials(passwords, USER_NAMES, nextPasswords));
    hashes = Object.fromEntries(USER_NAMES.map((u) => [u, byLogin[u]])) as Record<UserName, string>;
    nextHashes = Object.fromEntries(rotating.map((u) => [u, byLogin[nextLoginOf(u)]]));
  }
  if (rotating.length > 0) {
    progress(
      `rotatingUsers: second login ${rotating.map((u) => `${nextLoginOf(u)} beside ${u}`).join(", ")} (same permissions and inbox; ` +
        `credentials made once and kept, contexts ${shown(layout.credentials)}/<user>-next.json)`,
    );
  }
  if (seeds) {
    progress(
      `NKEY logins: nats.conf lists each user's public key${passwords ? " beside its password" : ", no password hash (nothing to hash)"}; ` +
        `seeds in ${shown(layout.credentials)}/<user>.seed (made once, reused)`,
    );
  }
  const publicKeys = seeds ? (Object.fromEntries(userSpecs().map((u) => [u.name, seeds[u.name].publicKey])) as Record<UserName, string>) : undefined;
  const nextPublicKeys = nextSeeds ? Object.fromEntries(rotating.map((u) => [u, nextSeeds[u]!.publicKey])) : undefined;
  const logins = clusterLogins(authentication, { hashes, nextHashes, ...(publicKeys ? { publicKeys } : {}), ...(nextPublicKeys ? { nextPublicKeys } : {}) });
  const credentials: StartCredentials = { authentication, ...(passwords ? { passwords } : {}), ...(seeds ? { seeds } : {}) };

  let cluster: LocalCluster;
  try {
    cluster = await LocalCluster.start({
    config,
    grants,
    hashes: logins.hashes,
    extraLogins: logins.extraLogins,
    stateDir: layout.root,
    ports,
    binary: server.path,
    limits: { maxMemoryStore: limits.maxMemoryStore, maxFileStore: limits.maxFileStore },
    ...(certificates ? { tls: certificates } : {}),
    onProgress: progress,
  });
  } catch (err) {
    // A server that exits at start (bad port, unusable store) is the machine's problem, and its log says why.
    if (!(err instanceof LocalClusterError)) throw err;
    console.error(`local: ${err.message}`);
    return 1;
  }
  try {
    const ready = (async () => {
      await cluster.waitForMetaLeader();
      await cluster.waitForStreamLeaders();
      const written = writeContextFiles(
        layout,
        cluster.servers,
        { authentication, rotating, ...(passwords ? { passwords } : {}), ...(nextPasswords ? { nextPasswords } : {}) },
        caFile,
      );
      const provisioner = provisionerSettings(cluster.servers, credentials, caFile);
      progress(`applying the stream catalog (${catalog.streams.length} streams, ${catalog.consumers.length} consumers) as fluo-provisioner`);
      const applyStart = Date.now();
      const report = await applyCatalog(
        provisioner,
        catalog,
        {
          allowDestroy: config.allowDestroy,
          onAction: (a, done, total) => progress(`  [${done}/${total}] ${a.kind} ${a.id}: ${a.action} (${((Date.now() - applyStart) / 1000).toFixed(1)} s)`),
        },
      );
      const c = report.counts;
      progress(`catalog applied: ${c.create} created, ${c.update} updated, ${c.replace} replaced, ${c.unchanged} unchanged`);
      for (const a of report.actions.filter((x) => x.action !== "unchanged")) {
        progress(`  ${a.action} ${a.kind} ${a.id}${a.fields.length > 0 ? ` (${a.fields.join(", ")})` : ""}`);
      }
      if (report.extras.length > 0) {
        progress(
          `not in the catalog, left as they are (${report.extras.length}): ${report.extras.map((e) => `${e.kind} ${e.id}`).join(", ")}; ` +
            "delete them with `nats stream rm` / `nats consumer rm` or declare them, or start afresh with --reset",
        );
      }
      writeRecord(layout, {
        stack: config.stack,
        servers: cluster.servers,
        monitors: cluster.nodes.map((n) => n.monitorUrl),
        pids: cluster.pids,
        authentication,
        contexts: written.contexts,
        ...(written.nkeyContexts ? { nkeyContexts: written.nkeyContexts } : {}),
        ...(written.nextContexts ? { nextContexts: written.nextContexts } : {}),
        ...(written.nextNkeyContexts ? { nextNkeyContexts: written.nextNkeyContexts } : {}),
        ...(caFile ? { ca: caFile } : {}),
        startedAt: new Date().toISOString(),
      });
      printAccess(cluster, written, authentication, caFile);
      await printCatalog(catalog, provisioner);
      await closeConnections();
    })();
    const first = await Promise.race([ready.then(() => undefined), stopped]);
    if (first !== undefined) {
      log(`${first} during start-up: stopping`);
      ready.catch(() => undefined);
      return 0;
    }
    log(
      `Ready: ${cluster.servers.join(",")} (pids ${cluster.pids.join(",")}); credentials in ` +
        `${shown(layout.credentials)} (authentication ${authentication})${caFile ? `; TLS, CA ${shown(caFile)}` : ""}; ${args.smoke ? "running the smoke check" : "Ctrl-C to stop"}`,
    );
    if (args.smoke) return (await runSmoke(layout.root, log)) ? 0 : 1;
    const signal = await stopped;
    log(`${signal}: stopping ${cluster.nodes.length} servers`);
    return 0;
  } catch (err) {
    console.error(`local: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await closeConnections();
    await cluster.stop();
    log(`stopped; data kept in ${shown(layout.root)} (next run reuses it; --reset starts empty)`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(exitWhenFlushed, (err: unknown) => {
    console.error(err);
    exitWhenFlushed(1);
  });
}
