// The rendered nats.conf, run for real: a 3-node cluster on 127.0.0.1 (only addresses, names and store_dir
// differ from the pods), checked for routes, a JetStream meta leader, authentication and permissions.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "nats";
import { passwordHashes } from "./passwordHash";
import { userGrants } from "./userGrants";
import { LocalCluster } from "../local/localCluster";
import { parseStackConfig } from "./stackConfig";
import { ADMIN_TIMEOUT_MS, connectAs, nextPermissionError, requestAnswered, STANDARD_USERS, subscriptionDenied, TEST_PASSWORDS } from "../test/natsProbe.testkit";

let cluster: LocalCluster;
let stateDir: string;
const open: NatsConnection[] = [];

async function as(user: Parameters<typeof connectAs>[1]): Promise<NatsConnection> {
  const nc = await connectAs(cluster.servers, user);
  open.push(nc);
  return nc;
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "fluo-cluster-"));
  cluster = await LocalCluster.start({
    config: parseStackConfig("test", {}),
    grants: userGrants(),
    hashes: passwordHashes(TEST_PASSWORDS),
    stateDir,
  });
});

afterAll(async () => {
  for (const nc of open) await nc.close().catch(() => undefined);
  await cluster?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe("3-node cluster from the rendered config", () => {
  it("forms full-mesh routes and elects a JetStream meta leader", async () => {
    const leader = await cluster.waitForMetaLeader();
    expect(["nats-0", "nats-1", "nats-2"]).toContain(leader);
    const health = await cluster.health();
    expect(health.routePeers).toEqual([2, 2, 2]);
  });

  it("lets every user in with its password and refuses a wrong one (the browser's identity: not on the client port)", async () => {
    for (const user of STANDARD_USERS) {
      const nc = await as(user);
      expect(nc.info?.server_name).toMatch(/^nats-[012]$/);
    }
    // fluo-frontend's allowed_connection_types is WEBSOCKET: its right password is refused here.
    await expect(connectAs(cluster.servers, "fluo-frontend")).rejects.toThrow(/Authorization Violation/i);
    await expect(connectAs(cluster.servers, "fluo-bff", "not-the-password")).rejects.toThrow(/Authorization Violation/i);
    await expect(connectAs(cluster.servers, "fluo-workers", TEST_PASSWORDS["fluo-bff"])).rejects.toThrow(/Authorization Violation/i);
  });

  it("request-reply: the BFF may call the backend, which may answer; the workers may not call it", async () => {
    const backend = await as("fluo-backend");
    const sub = backend.subscribe("rpc.backend.>", { callback: (_err, msg) => msg.respond(new TextEncoder().encode("pong")) });
    await backend.flush();
    const bff = await as("fluo-bff");
    const reply = await requestAnswered(bff, "rpc.backend.ping", new Uint8Array());
    expect(new TextDecoder().decode(reply.data)).toBe("pong");

    const workers = await as("fluo-workers");
    const denied = nextPermissionError(workers);
    await expect(workers.request("rpc.backend.ping", new Uint8Array(), { timeout: 1000 })).rejects.toThrow();
    expect(await denied).toBe("publish rpc.backend.ping");
    sub.unsubscribe();
  });

  it("no user may read another user's inbox or the RPC subjects it does not serve", async () => {
    const workers = await as("fluo-workers");
    expect(await subscriptionDenied(workers.subscribe("_INBOX_FLUO_BFF.>"), 0, workers)).toBe(true);
    expect(await subscriptionDenied(workers.subscribe("_INBOX.>"), 0, workers)).toBe(true);
    const bff = await as("fluo-bff");
    expect(await subscriptionDenied(bff.subscribe("rpc.backend.>"), 0, bff)).toBe(true);
    // Control: a user's own inbox is allowed, so the probe above does not report everything as denied.
    expect(await subscriptionDenied(bff.subscribe("_INBOX_FLUO_BFF.probe"), 0, bff)).toBe(false);
  });

  it("the provisioner reaches the JetStream API but may not publish data", async () => {
    const provisioner = await as("fluo-provisioner");
    const jsm = await provisioner.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    const info = await jsm.getAccountInfo();
    expect(info.streams).toBeGreaterThanOrEqual(0);
    const denied = nextPermissionError(provisioner);
    provisioner.publish("jobs.trace_analysis", new Uint8Array());
    expect(await denied).toBe("publish jobs.trace_analysis");
  });

  it("the monitoring user sees every server through $SYS; application users cannot", async () => {
    const system = await as("fluo-monitor");
    const inbox = system.subscribe("_INBOX_FLUO_MONITOR.ping");
    const names = new Set<string>();
    system.publish("$SYS.REQ.SERVER.PING", new Uint8Array(), { reply: "_INBOX_FLUO_MONITOR.ping" });
    for await (const msg of inbox) {
      names.add((msg.json() as { server: { name: string } }).server.name);
      if (names.size === 3) break;
    }
    expect([...names].sort()).toEqual(["nats-0", "nats-1", "nats-2"]);

    const backend = await as("fluo-backend");
    const denied = nextPermissionError(backend);
    backend.publish("$SYS.REQ.SERVER.PING", new Uint8Array());
    expect(await denied).toBe("publish $SYS.REQ.SERVER.PING");
  });
});
