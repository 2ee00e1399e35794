// TLS for clients and routes, and route authorization, on a live 3-node cluster from the rendered nats.conf with
// certificates generated here (openssl, local/certificates.ts). Proves: TLS clients of the cluster's CA get in;
// plaintext and a wrong CA are refused; a server with a certificate of another CA, or without the route
// credentials, cannot join; the probes' endpoints and JetStream work over TLS.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type ConnectionOptions } from "nats";
import { natsConfInput, ROUTE_USER } from "./renderCluster";
import { passwordHashes } from "./passwordHash";
import { userGrants } from "./userGrants";
import { parseStackConfig } from "./stackConfig";
import { renderNatsConf, type RouteAuth, type TlsFiles } from "./natsConfig";
import { userSpecs, type UserName } from "./users";
import { PROBE_PATHS } from "./kubernetesObjects";
import { generateCertificates, type GeneratedCertificates } from "../local/certificates";
import { freeNodePorts, LocalCluster, localTopology, natsServerBinary } from "../local/localCluster";
import { ADMIN_TIMEOUT_MS } from "../test/natsProbe.testkit";

const config = parseStackConfig("test", {});
const grants = userGrants();
const passwords = Object.fromEntries(userSpecs().map((u) => [u.name, `tls-${u.name}`])) as Record<UserName, string>;
const hashes = passwordHashes(passwords);
const routeAuth: RouteAuth = { user: ROUTE_USER, password: "route-secret-for-the-test" };

let dir: string;
let clusterCa: GeneratedCertificates;
let otherCa: GeneratedCertificates;
let cluster: LocalCluster;
const rogues: ChildProcess[] = [];

const clientOptions = (user: UserName, ca: string | undefined): ConnectionOptions => ({
  servers: cluster.servers,
  user,
  pass: passwords[user],
  inboxPrefix: userSpecs().find((u) => u.name === user)!.inboxPrefix,
  reconnect: false,
  timeout: 5_000,
  ...(ca ? { tls: { caFile: ca } } : { tls: {} }),
});

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const read = (path: string): string => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};

/** Server names that node 0 has a route to. */
async function routedNames(): Promise<string[]> {
  const routez = (await (await fetch(`${cluster.nodes[0].monitorUrl}/routez`)).json()) as { routes?: Array<{ remote_name?: string }> };
  return [...new Set((routez.routes ?? []).map((r) => r.remote_name ?? ""))].sort();
}

/** Starts a fourth server that tries to route into the cluster with the given TLS files and credentials. */
async function startRogue(name: string, tls: TlsFiles, auth: RouteAuth | undefined): Promise<string> {
  const [ports] = await freeNodePorts(1);
  const rogueDir = join(dir, name);
  mkdirSync(join(rogueDir, "data"), { recursive: true });
  const own = localTopology([ports], 0, rogueDir);
  const topology = {
    ...own,
    serverName: name,
    routes: [`nats://127.0.0.1:${cluster.nodes[0].ports.cluster}`],
    storeDir: join(rogueDir, "data"),
    pidFile: join(rogueDir, "nats.pid"),
  };
  const confPath = join(rogueDir, "nats.conf");
  const input = natsConfInput(config, topology, grants, hashes, { tls, ...(auth ? { routeAuth: auth } : {}) });
  writeFileSync(confPath, renderNatsConf(input));
  const logPath = join(rogueDir, "nats.log");
  const child = spawn(natsServerBinary(), ["-c", confPath, "-l", logPath, "-D"], { stdio: "ignore" });
  rogues.push(child);
  return logPath;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fluo-tls-"));
  clusterCa = generateCertificates(join(dir, "cluster-ca"));
  otherCa = generateCertificates(join(dir, "other-ca"));
  cluster = await LocalCluster.start({ config, grants, hashes, stateDir: join(dir, "cluster"), tls: clusterCa, routeAuth });
  await cluster.waitForMetaLeader();
});

afterAll(async () => {
  for (const rogue of rogues) rogue.kill("SIGKILL");
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("TLS and route authorization on a live cluster", () => {
  it("renders TLS for clients and routes, and route credentials, into nats.conf", () => {
    const conf = readFileSync(cluster.nodes[0].confPath, "utf8");
    expect(conf).toMatch(/^tls \{\n {2}cert_file: /m);
    expect(conf).toMatch(/cluster \{[\s\S]*\n {2}tls \{[\s\S]*\n {2}authorization \{\n {4}user: "fluo-route"/);
    expect(conf).toContain(`nats://fluo-route:${routeAuth.password}@127.0.0.1:${cluster.nodes[1].ports.cluster}`);
  });

  it("forms the cluster over TLS routes with credentials, and serves JetStream to a TLS client of its CA", async () => {
    expect(await routedNames()).toEqual(["nats-1", "nats-2"]);
    const varz = (await (await fetch(`${cluster.nodes[0].monitorUrl}/varz`)).json()) as { tls_required?: boolean; cluster?: { tls_required?: boolean } };
    expect(varz.tls_required).toBe(true);
    expect(varz.cluster?.tls_required).toBe(true);
    const nc = await connect(clientOptions("fluo-provisioner", clusterCa.caFile));
    const info = await (await nc.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS })).getAccountInfo();
    expect(info.streams).toBe(0);
    await nc.close();
  });

  it("the probes' endpoints answer over the plain monitor port of a TLS cluster", async () => {
    for (const path of Object.values(PROBE_PATHS)) {
      expect((await fetch(`${cluster.nodes[0].monitorUrl}${path}`)).status, path).toBe(200);
    }
  });

  it("refuses a plaintext client", async () => {
    const port = cluster.nodes[0].ports.client;
    let closedByUs = false;
    const transcript = await new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(port, "127.0.0.1");
      let text = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => {
        text += chunk;
        if (text.includes("INFO ") && !text.includes("CONNECT_SENT")) {
          text += "CONNECT_SENT\n";
          socket.write(`CONNECT ${JSON.stringify({ user: "fluo-bff", pass: passwords["fluo-bff"], verbose: false })}\r\nPING\r\n`);
        }
      });
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
      setTimeout(() => {
        closedByUs = true;
        socket.destroy();
      }, 10_000);
    });
    // The server announces TLS, then expects a TLS handshake: plaintext CONNECT is a failed handshake, the
    // connection is closed without a PONG (nothing was processed).
    expect(transcript).toMatch(/"tls_required":true/);
    expect(transcript).not.toMatch(/PONG|\+OK/);
    expect(closedByUs).toBe(false);
  });

  it("a client that trusts another CA (or only the system's) refuses the server", async () => {
    await expect(connect(clientOptions("fluo-bff", otherCa.caFile))).rejects.toThrow(/certificate|self.signed|verify/i);
    await expect(connect(clientOptions("fluo-bff", undefined))).rejects.toThrow(/certificate|self.signed|verify/i);
  });

  it("a server with a certificate of another CA cannot open a route, even with the credentials", async () => {
    const log = await startRogue("rogue-wrong-ca", otherCa, routeAuth);
    await until("the rogue server's TLS handshake to fail", () => /tls|certificate|handshake/i.test(read(log)) && /error/i.test(read(log)));
    expect(await routedNames()).toEqual(["nats-1", "nats-2"]);
  });

  it("a server with the cluster's certificate but no route credentials is refused", async () => {
    const log = await startRogue("rogue-no-credentials", clusterCa, undefined);
    await until("the cluster to refuse the rogue route", () => /authorization violation/i.test(read(log)));
    expect(await routedNames()).toEqual(["nats-1", "nats-2"]);
    for (const node of cluster.nodes) expect(read(node.logPath)).not.toMatch(/rogue-no-credentials.*(route connection created|Route connection created)/);
  });
});
