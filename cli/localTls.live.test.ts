// `npm run local -- --tls` as a developer runs it, a child process: the cluster serves only TLS clients (a
// plaintext client is refused), the context files it writes carry the CA so the pinned natscli and our CLIs
// (drift, backup, bench, smoke) connect through them, a restart reuses the certificates (and `--tls --smoke` passes),
// and a start without --tls on the same state directory switches back to plaintext.

import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userSpecs } from "../infra/users";
import { stateLayout } from "../local/stateDir";
import { runNatsCli, type NatsCliResult } from "../test/natscli.testkit";
import { expectOneLineError, LocalSession, runCli, type LocalRun } from "./cli.testkit";

const stateDir = mkdtempSync(join(tmpdir(), "fluo-local-tls-"));
const scratch = mkdtempSync(join(tmpdir(), "fluo-local-tls-out-"));
// natscli keeps its own config under $HOME/.config/nats: a private HOME keeps the machine's contexts out.
const natsHome = join(scratch, "home");
const layout = stateLayout(stateDir);
const caFile = join(layout.tls, "ca.crt");
const context = (user: string): string => layout.contextFile(user);
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
const digest = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

let session: LocalSession;
let basePort: number;
let local: LocalRun | undefined;

function nats(args: readonly string[]): Promise<NatsCliResult> {
  return runNatsCli(natsHome, args);
}

/** What a plaintext client gets: the server's INFO, then (after a plaintext CONNECT + PING) whatever follows. */
function plaintextTranscript(port: number, password: string): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1");
    let text = "";
    let sent = false;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (!sent && text.includes("INFO ")) {
        sent = true;
        socket.write(`CONNECT ${JSON.stringify({ user: "fluo-bff", pass: password, verbose: false })}\r\nPING\r\n`);
      }
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedByServer: false });
    }, 10_000);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closedByServer: true });
    });
    socket.on("error", reject);
  });
}

async function startTls(extra: readonly string[] = []): Promise<LocalRun> {
  return session.start(["--tls", ...extra]);
}

beforeAll(async () => {
  session = await LocalSession.open(stateDir);
  basePort = session.basePort;
  local = await startTls();
}, 120_000);

afterAll(async () => {
  await local?.stop();
  await session?.cleanup(stateDir, scratch);
}, 60_000);

describe("npm run local -- --tls", () => {
  it("serves tls:// URLs, with route mutual TLS and route credentials, and names the CA it made in the state directory", () => {
    expect(local!.servers.every((u) => u.startsWith("tls://127.0.0.1:"))).toBe(true);
    expect(local!.readyLine).toContain(`TLS, CA ${caFile}`);
    expect(local!.output()).toContain(`TLS: made a CA and a server certificate for 127.0.0.1 and localhost in ${layout.tls}`);
    expect(local!.output()).toContain(`NODE_EXTRA_CA_CERTS=${caFile}`);
    for (const key of ["ca.key", "server.key"]) expect(statSync(join(layout.tls, key)).mode & 0o777, key).toBe(0o600);
    const conf = readFileSync(join(stateDir, "nats-0", "nats.conf"), "utf8");
    expect(conf).toMatch(/^tls \{\n {2}cert_file: ".*\/tls\/server\.crt"/m);
    // Route TLS is mutual without a verify flag: nats-server always checks a route's certificate against ca_file.
    expect(conf).toMatch(/cluster \{[\s\S]*\n {2}tls \{\n {4}cert_file: [\s\S]*\n {4}ca_file: [\s\S]*\n {2}authorization \{\n {4}user: "fluo-route"/);
  });

  it("writes every user's context with the CA as natscli's `ca` field, and records it", () => {
    for (const spec of userSpecs()) {
      const file = readJson(context(spec.name));
      expect(file.ca, spec.name).toBe(caFile);
      expect(String(file.url)).toBe(local!.servers.join(","));
    }
    expect(readJson(layout.record).ca).toBe(caFile);
  });

  it("refuses a plaintext client: the server asks for TLS and processes nothing sent in clear", async () => {
    const password = (readJson(layout.passwords) as Record<string, string>)["fluo-bff"];
    const { text, closedByServer } = await plaintextTranscript(basePort, password);
    expect(text).toMatch(/"tls_required":true/);
    expect(text).not.toMatch(/PONG|\+OK/);
    expect(closedByServer).toBe(true);
  });

  it("the pinned natscli works through the written context, and refuses the server without its ca", async () => {
    const ok = await nats(["--context", context("fluo-provisioner"), "stream", "ls", "--names"]);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out.split(/\s+/).filter((w) => w !== "").sort()).toEqual(["DEADLETTER", "EVENTS", "JOBS", "SIGNALS"]);
    const { ca: _ca, ...withoutCa } = readJson(context("fluo-provisioner"));
    const bare = join(scratch, "no-ca.json");
    writeFileSync(bare, JSON.stringify(withoutCa), { mode: 0o600 });
    const refused = await nats(["--context", bare, "stream", "ls", "--names"]);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/certificate signed by unknown authority/);
  });

  it("drift works through the context file, through --url with --ca or NODE_EXTRA_CA_CERTS; without a CA it says which one to give", async () => {
    const viaContext = await runCli("cli/drift.ts", ["--stack", "dev", "--context", context("fluo-provisioner")]);
    expect(viaContext.code, viaContext.stderr).toBe(0);
    expect(viaContext.stdout).toMatch(/^No drift: tls:\/\/127\.0\.0\.1:\d+,.* matches stack dev/m);
    const env = { FLUO_QUEUE_PROVISIONER_PASSWORD: (readJson(layout.passwords) as Record<string, string>)["fluo-provisioner"] };
    const url = local!.servers[0];
    const viaCa = await runCli("cli/drift.ts", ["--stack", "dev", "--url", url, "--ca", caFile], { env });
    expect(viaCa.code, viaCa.stderr).toBe(0);
    expect(viaCa.stdout).toMatch(/^No drift: tls:\/\//m);
    const untrusted = await runCli("cli/drift.ts", ["--stack", "dev", "--url", url], { env: { ...env, NODE_EXTRA_CA_CERTS: "" } });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/^drift: NATS at tls:\/\/\S+ presented a TLS certificate this client does not trust \(.*\): give the cluster's CA \(--ca <file>/m);
    // What `pulumi up`'s provider host relies on (README "Reaching NATS from pulumi up"): the same client code,
    // given no CA, trusts NODE_EXTRA_CA_CERTS.
    const extraCa = await runCli("cli/drift.ts", ["--stack", "dev", "--url", url], { env: { ...env, NODE_EXTRA_CA_CERTS: caFile } });
    expect(extraCa.code, extraCa.stderr).toBe(0);
    expect(extraCa.stdout).toMatch(/^No drift: tls:\/\//m);
    const notPem = await runCli("cli/drift.ts", ["--stack", "dev", "--url", url, "--ca", layout.passwords], { env });
    expect(expectOneLineError(notPem, "drift")).toBe(`drift: --ca ${layout.passwords}: not a PEM certificate (no "-----BEGIN CERTIFICATE-----"); give the CA certificate of the servers`);
  });

  it("backup and bench work through the context file, smoke through the state directory's contexts", async () => {
    const backup = await runCli("cli/backup.ts", ["backup", "--stream", "EVENTS", "--out", join(scratch, "events"), "--context", context("fluo-backup")]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/^Backed up stream EVENTS \(\d+ messages/);
    const bench = await runCli("bench/dataPath.ts", ["--context", context("fluo-bff"), "--rate", "100", "--seconds", "1", "--messages", "100", "--in-flight", "16"], { timeoutMs: 120_000 });
    expect(bench.code, `${bench.stdout}\n${bench.stderr}`).toBe(0);
    expect(bench.stdout).toContain("PASS: every acked job consumed exactly once");
    const smoke = await runCli("cli/smoke.ts", ["--state-dir", stateDir]);
    expect(smoke.code, smoke.stdout).toBe(0);
    expect(smoke.stdout).toContain("Smoke check passed");
  }, 150_000);

  it("a restart with --tls --smoke reuses the certificates, and the smoke check passes", async () => {
    expect(await local!.stop()).toBe(0);
    local = undefined;
    const before = ["ca.crt", "server.crt", "server.key"].map((f) => digest(join(layout.tls, f)));
    const run = await runCli("cli/local.ts", ["--tls", "--smoke", "--state-dir", stateDir, "--base-port", String(basePort)], { timeoutMs: 120_000 });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain(`TLS: reusing the CA and server certificate in ${layout.tls}`);
    expect(run.stdout).toMatch(/^Ready: tls:\/\/127\.0\.0\.1:/m);
    expect(run.stdout).toContain("Smoke check passed");
    expect(["ca.crt", "server.crt", "server.key"].map((f) => digest(join(layout.tls, f)))).toEqual(before);
  }, 150_000);

  it("a start without --tls on the same state directory switches to plaintext and rewrites the contexts without ca", async () => {
    const run = await runCli("cli/local.ts", ["--smoke", "--state-dir", stateDir, "--base-port", String(basePort)], { timeoutMs: 120_000 });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain("the last start ran with TLS: switching; the context files get nats:// URLs without ca");
    expect(run.stdout).toMatch(/^Ready: nats:\/\/127\.0\.0\.1:/m);
    expect(run.stdout).toContain("Smoke check passed");
    const file = readJson(context("fluo-workers"));
    expect(file.ca).toBeUndefined();
    expect(String(file.url)).toMatch(/^nats:\/\//);
  }, 150_000);
});
