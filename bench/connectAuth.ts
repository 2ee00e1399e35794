// npm run bench:auth [-- --connects 20]
// What one connect costs the server with each login kind of infra/renderCluster.ts: a bcrypt password (cost 11,
// the rendered hashes) and an NKEY (nats.conf holds only the public key; the server verifies a signature).
// Starts its own single-server local cluster from the rendered test config, connects N times one after the
// other as fluo-bff each way, and prints the connect latency (the server's auth work dominates it).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect, nkeyAuthenticator, nkeys, type ConnectionOptions } from "nats";
import { parseCommandLine, positiveInteger, type CommandSpec } from "../cli/args";
import { exitWhenFlushed, runCli } from "../cli/errors";
import { passwordHashes } from "../infra/passwordHash";
import { parseStackConfig } from "../infra/stackConfig";
import { userGrants } from "../infra/userGrants";
import { userSpecs } from "../infra/users";
import { LocalCluster } from "../local/localCluster";

async function timeConnects(options: ConnectionOptions, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const nc = await connect({ ...options, reconnect: false });
    await nc.flush();
    times.push(performance.now() - start);
    await nc.close();
  }
  return times.sort((a, b) => a - b);
}

const summary = (label: string, t: number[]): string =>
  `${label.padEnd(22)} median ${t[Math.floor(t.length / 2)].toFixed(1)} ms  p90 ${t[Math.floor(t.length * 0.9)].toFixed(1)} ms  (n=${t.length})`;

export const BENCH_AUTH: CommandSpec<"connects"> = {
  command: "npm run bench:auth --",
  summary: "times connects as fluo-bff with a bcrypt password and with an NKEY on a local single server",
  options: { connects: { value: "<n>", help: "connects per login kind, one after the other (default 20)" } },
};

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandLine(BENCH_AUTH, argv);
  const count = positiveInteger("connects", values.connects, 20);
  const passwords = Object.fromEntries(userSpecs().map((u) => [u.name, `bench-${u.name}`]));
  const key = nkeys.createUser();
  const stateDir = mkdtempSync(join(tmpdir(), "fluo-bench-auth-"));
  const cluster = await LocalCluster.start({
    config: parseStackConfig("bench", { replicas: 1 }),
    grants: userGrants(),
    hashes: passwordHashes(passwords),
    extraLogins: { "fluo-bff": [{ nkey: key.getPublicKey() }] },
    stateDir,
    limits: { maxMemoryStore: 64 * 2 ** 20, maxFileStore: 256 * 2 ** 20 },
  });
  try {
    const base = { servers: cluster.servers, inboxPrefix: userSpecs().find((u) => u.name === "fluo-bff")!.inboxPrefix };
    const bcrypt = await timeConnects({ ...base, user: "fluo-bff", pass: passwords["fluo-bff"] }, count);
    const nkey = await timeConnects({ ...base, authenticator: nkeyAuthenticator(key.getSeed()) }, count);
    console.log(summary("bcrypt password (11)", bcrypt));
    console.log(summary("nkey", nkey));
    return 0;
  } finally {
    await cluster.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

void runCli("bench:auth", () => main(process.argv.slice(2))).then(exitWhenFlushed);
