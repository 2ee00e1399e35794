// Credential rotation with an overlap, live: while the BFF publishes jobs and the workers pull and ack them
// without pause, the workers' credential is rotated. 1. a second login (`fluo-workers-next`, same permissions and
// inbox) is added and the servers reload; 2. the workers reconnect with it and the old connection drains;
// 3. the old login is removed and the servers reload. No request of either client may fail, every job must be
// processed once, and the old credential must be refused at the end.
// NKEYs the same way: an identity with only an NKEY login (nats.conf holds its public key and no secret).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, nkeyAuthenticator, nkeys, StringCodec, type NatsConnection } from "nats";
import { deploymentModel } from "../model";
import { readStackConfig } from "./stackFile";
import { hashPassword, passwordHashes, randomSaltKey } from "./passwordHash";
import { NO_PASSWORD } from "./renderCluster";
import { userSpecs, type UserName } from "./users";
import { LocalCluster } from "../local/localCluster";
import { ADMIN_TIMEOUT_MS, publishStored } from "../test/natsProbe.testkit";
import { consumerApiConfig, streamApiConfig } from "../streams/fields";

const sc = StringCodec();
const config = readStackConfig("dev");
const { catalog, grants } = deploymentModel(config);
const passwords = Object.fromEntries(userSpecs().map((u) => [u.name, `rotation-${u.name}`])) as Record<UserName, string>;
const saltKey = randomSaltKey();
const hashes = passwordHashes(passwords, saltKey);
const inboxOf = (user: UserName): string => userSpecs().find((u) => u.name === user)!.inboxPrefix;
const NEXT_PASSWORD = "rotation-fluo-workers-next";

let stateDir: string;
let cluster: LocalCluster;
const open: NatsConnection[] = [];

async function login(user: string, pass: string, identity: UserName): Promise<NatsConnection> {
  const nc = await connect({ servers: cluster.servers, user, pass, inboxPrefix: inboxOf(identity), reconnect: false });
  open.push(nc);
  return nc;
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "fluo-rotation-"));
  cluster = await LocalCluster.start({ config, grants, hashes, stateDir });
  await cluster.waitForMetaLeader();
  const jsm = await (await login("fluo-provisioner", passwords["fluo-provisioner"], "fluo-provisioner")).jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
  for (const s of catalog.streams) await jsm.streams.add(streamApiConfig(s));
  for (const c of catalog.consumers) await jsm.consumers.add(c.stream, consumerApiConfig(c));
});

afterAll(async () => {
  for (const nc of open) if (!nc.isClosed()) await nc.close().catch(() => undefined);
  await cluster?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe("credential rotation without outage", () => {
  it("rotates the workers' password under traffic with no failed publish, pull or ack", async () => {
    const failures: string[] = [];
    const published: number[] = [];
    const acked: number[] = [];
    let stop = false;
    let phase = "old credential";
    const perPhase = new Map<string, number>();

    const bff = await login("fluo-bff", passwords["fluo-bff"], "fluo-bff");
    let workers = await login("fluo-workers", passwords["fluo-workers"], "fluo-workers");

    const producing = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await bff.jetstream().publish("jobs.rule_validation", sc.encode(String(i)), { msgID: `rotation-${i}` });
          published.push(i);
        } catch (err) {
          failures.push(`publish ${i} (${phase}): ${String(err)}`);
        }
      }
    })();
    // A worker as services run one: the consumer looked up once per connection, then pull after pull.
    const consumers = new Map<NatsConnection, Awaited<ReturnType<ReturnType<NatsConnection["jetstream"]>["consumers"]["get"]>>>();
    const consuming = (async () => {
      while (!stop || acked.length < published.length) {
        const nc = workers; // the connection in service when this pull starts
        try {
          if (!consumers.has(nc)) consumers.set(nc, await nc.jetstream().consumers.get("JOBS", "rule-validation"));
          const msg = await consumers.get(nc)!.next({ expires: 1_000 });
          if (!msg) continue;
          if (!(await msg.ackAck())) throw new Error(`ack of ${sc.decode(msg.data)} not confirmed`);
          acked.push(Number(sc.decode(msg.data)));
          perPhase.set(phase, (perPhase.get(phase) ?? 0) + 1);
        } catch (err) {
          failures.push(`pull/ack (${phase}, ${nc === workers ? "current" : "previous"} connection, ${nc.info?.server_name}, acked ${acked.length}): ${String(err)}`);
          if (failures.length > 20) return;
        }
      }
    })();
    const progress = async (count: number) => {
      const target = acked.length + count;
      while (acked.length < target && failures.length === 0) await new Promise((r) => setTimeout(r, 20));
    };

    await progress(30);
    // 1. The second credential: a login of the same identity, valid beside the first.
    phase = "both credentials";
    const nextLogin = { user: "fluo-workers-next", passwordHash: hashPassword("fluo-workers-next", NEXT_PASSWORD, saltKey) };
    await cluster.reloadAuth({ hashes, extraLogins: { "fluo-workers": [nextLogin] } });
    await progress(30);
    // 2. The service rolls to the new credential; the old connection finishes its pull and drains.
    const old = workers;
    workers = await login("fluo-workers-next", NEXT_PASSWORD, "fluo-workers");
    await progress(30);
    await old.drain();
    phase = "new credential";
    // 3. The old login goes.
    await cluster.reloadAuth({ hashes: { ...hashes, "fluo-workers": NO_PASSWORD }, extraLogins: { "fluo-workers": [nextLogin] } });
    await progress(30);
    stop = true;
    await producing;
    await consuming;

    expect(failures).toEqual([]);
    expect(acked.slice().sort((a, b) => a - b)).toEqual(published);
    for (const p of ["old credential", "both credentials", "new credential"]) expect(perPhase.get(p) ?? 0, p).toBeGreaterThan(0);
    await expect(connect({ servers: cluster.servers, user: "fluo-workers", pass: passwords["fluo-workers"], reconnect: false })).rejects.toThrow(/authorization violation/i);
    expect(bff.isClosed()).toBe(false);
  });

  it("NKEY login: nats.conf holds the public key only, and the identity keeps its permissions", async () => {
    const user = nkeys.createUser();
    const publicKey = user.getPublicKey();
    const seed = user.getSeed();
    await cluster.reloadAuth({ hashes: { ...hashes, "fluo-bff": NO_PASSWORD }, extraLogins: { "fluo-bff": [{ nkey: publicKey }] } });
    const conf = readFileSync(cluster.nodes[0].confPath, "utf8");
    expect(conf).toContain(`nkey: "${publicKey}"`);
    expect(conf).not.toContain(new TextDecoder().decode(seed));
    expect(conf).not.toMatch(/user: "fluo-bff"/);

    const nc = await connect({ servers: cluster.servers, authenticator: nkeyAuthenticator(seed), inboxPrefix: inboxOf("fluo-bff"), reconnect: false });
    open.push(nc);
    const ack = await publishStored(nc.jetstream(), "jobs.trace_analysis", sc.encode("via nkey"));
    expect(ack.stream).toBe("JOBS");
    // Same permissions as the password login had: no signals.
    const denied = new Promise<string>((resolve) => {
      void (async () => {
        for await (const s of nc.status()) if (s.permissionContext) return resolve(`${s.permissionContext.operation} ${s.permissionContext.subject}`);
      })();
    });
    nc.publish("signals.status.resolved", sc.encode("{}"));
    expect(await denied).toBe("publish signals.status.resolved");
    await expect(connect({ servers: cluster.servers, user: "fluo-bff", pass: passwords["fluo-bff"], reconnect: false })).rejects.toThrow(/authorization violation/i);
  });
});
