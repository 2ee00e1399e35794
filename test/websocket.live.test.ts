// Browsers on the WebSocket listener (issue 23), in a real headless Chromium (Debian's `chromium`, driven by
// playwright-core) against a live 3-node cluster from the rendered dev nats.conf with `websocket` on. The page
// (test/browser/signalsPage.ts, bundled by esbuild here, nothing bundled is committed) connects as fluo-frontend
// with nats.ws from npm and:
// - receives a signal the backend publishes (stored by SIGNALS: its publish ack says so) within a bounded time;
// - is refused when it publishes a job, reads JOBS through the JetStream API, or creates a consumer, and the
//   cluster shows that nothing happened (JOBS holds what it held, no consumer was made);
// - cannot connect at all from a page of an origin the stack does not list.
// Every line the browser saw is printed (the issue's closing note quotes them).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { connect, StringCodec, type NatsConnection } from "nats";
import { deploymentModel } from "../model";
import { passwordHashes } from "../infra/passwordHash";
import { FRONTEND_CONNECTION_LIMITS, FRONTEND_SIGNAL_SUBJECTS, inboxPrefixOf } from "../infra/users";
import { LocalCluster, natsServerBinary } from "../local/localCluster";
import { consumerApiConfig, streamApiConfig } from "../streams/fields";
import { JOB_SUBJECTS } from "../streams/catalog";
import { natsServerVersion, onPath } from "../tools/resolve";
import { ADMIN_TIMEOUT_MS, connectAs, devWithWebsocket, TEST_PASSWORDS } from "./natsProbe.testkit";
import type { fluoPage } from "./browser/signalsPage";

const sc = StringCodec();
/** Bounds every wait for something the browser should see; a step that never comes fails the test here. */
const BROWSER_STEP_MS = 15_000;

type PageApi = typeof fluoPage;

/** A page server on 127.0.0.1: the HTML and the bundled client. Its origin is `http://127.0.0.1:<port>`. */
async function pageServer(bundle: string): Promise<{ server: Server; origin: string }> {
  const html = '<!doctype html><meta charset="utf-8"><title>fluo signals</title><script type="module" src="/page.js"></script>';
  const server = createServer((req, res) => {
    if (req.url === "/page.js") res.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
    else res.writeHead(200, { "content-type": "text/html" }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Debian's chromium (FLUO_CHROMIUM overrides): the test never downloads a browser. */
function chromiumBinary(): string {
  const path = process.env.FLUO_CHROMIUM ?? onPath("chromium");
  if (!path) throw new Error("chromium not found on PATH: install it with `apt-get install -y chromium` (.ci/run does), or set FLUO_CHROMIUM");
  return path;
}

let stateDir: string;
let cluster: LocalCluster;
let browser: Browser;
const servers: Server[] = [];
let allowed: string;
let other: string;
const connections: NatsConnection[] = [];
const seen: string[] = [];

type PageStep = { [K in keyof PageApi]: PageApi[K] extends (...args: infer A) => Promise<unknown> ? (A extends [] ? [] : [A[0]]) : never };

/** One step of the page (a method of fluoPage, run in the browser with its argument), bounded, printed and kept. */
async function step<K extends keyof PageApi>(page: Page, label: string, method: K, ...arg: PageStep[K]): Promise<string> {
  const result = await Promise.race([
    page
      .evaluate(
        // Serialized into the page: no closure over this module, only the argument.
        ({ m, a }) => (globalThis as unknown as { fluoPage: Record<string, (x: unknown) => Promise<unknown>> }).fluoPage[m](a),
        { m: method as string, a: arg[0] as unknown },
      )
      .then(String),
    new Promise<string>((_, reject) => setTimeout(() => reject(new Error(`${label}: the browser saw nothing within ${BROWSER_STEP_MS} ms`)), BROWSER_STEP_MS)),
  ]);
  const line = `browser ${label}: ${result}`;
  seen.push(line);
  console.log(line);
  return result;
}

/** What each page's console printed (Chromium logs a refused WebSocket handshake there, with the status code). */
const consoles = new WeakMap<Page, string[]>();

/** Opens the page at `origin` and waits until its module has loaded (the load event follows module scripts). */
async function openPage(origin: string): Promise<Page> {
  const page = await browser.newPage();
  const lines: string[] = [];
  consoles.set(page, lines);
  page.on("console", (m) => {
    lines.push(m.text());
    seen.push(`browser console (${origin}): ${m.text()}`);
    console.log(`page console: ${m.text()}`);
  });
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => "fluoPage" in globalThis);
  return page;
}

const config = (origin: string) => devWithWebsocket(origin);

beforeAll(async () => {
  const bundled = await build({ entryPoints: [join(__dirname, "browser", "signalsPage.ts")], bundle: true, format: "esm", platform: "browser", target: "es2022", write: false, logLevel: "silent",
    // tweetnacl's Node fallback (`require("crypto")`) in nats.ws; a browser takes crypto.getRandomValues first.
    external: ["crypto"] });
  const bundle = bundled.outputFiles[0].text;
  for (const s of [await pageServer(bundle), await pageServer(bundle)]) servers.push(s.server);
  allowed = `http://127.0.0.1:${(servers[0].address() as AddressInfo).port}`;
  other = `http://127.0.0.1:${(servers[1].address() as AddressInfo).port}`;

  const stack = config(allowed);
  const { catalog, grants } = deploymentModel(stack);
  stateDir = mkdtempSync(join(tmpdir(), "fluo-websocket-"));
  cluster = await LocalCluster.start({ config: stack, grants, hashes: passwordHashes(TEST_PASSWORDS), stateDir });
  await cluster.waitForMetaLeader();
  const provisioner = await connectAs(cluster.servers, "fluo-provisioner");
  connections.push(provisioner);
  const jsm = await provisioner.jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
  for (const s of catalog.streams) await jsm.streams.add(streamApiConfig(s));
  for (const c of catalog.consumers) await jsm.consumers.add(c.stream, consumerApiConfig(c));
  browser = await chromium.launch({ executablePath: chromiumBinary(), headless: true, args: ["--no-sandbox"] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const nc of connections) if (!nc.isClosed()) await nc.close();
  await cluster?.stop();
  for (const s of servers) await new Promise((r) => s.close(r));
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  console.log(`what the browser saw (nats-server ${natsServerVersion(natsServerBinary())}):\n${seen.map((l) => `  ${l}`).join("\n")}`);
}, 60_000);

const frontendLogin = () => ({
  servers: cluster.nodes[0].websocketUrl!,
  user: "fluo-frontend",
  pass: TEST_PASSWORDS["fluo-frontend"],
  inboxPrefix: inboxPrefixOf("fluo-frontend"),
});

describe("a browser on the WebSocket listener as fluo-frontend", () => {
  let page: Page;
  beforeAll(async () => {
    page = await openPage(allowed);
  }, 60_000);
  afterAll(async () => {
    await page?.evaluate(() => (globalThis as unknown as { fluoPage: PageApi }).fluoPage.close());
    await page?.close();
  });

  it("connects from an allowed origin and receives the signal the backend publishes (stored by SIGNALS)", async () => {
    const login = frontendLogin();
    expect(await step(page, "connect", "connect", login)).toMatch(/^connected to /);
    // Interest is registered on server 0, where the backend publishes too: no route propagation to wait for.
    await step(page, "subscribe", "subscribe", FRONTEND_SIGNAL_SUBJECTS);
    const signal = step(page, "signal", "nextSignal");
    const backend = await connect({ servers: cluster.servers[0], user: "fluo-backend", pass: TEST_PASSWORDS["fluo-backend"], inboxPrefix: inboxPrefixOf("fluo-backend"), reconnect: false });
    connections.push(backend);
    const body = JSON.stringify({ signalId: "sig-42", status: "resolved", by: "fluo-backend" });
    const ack = await backend.jetstream().publish("signals.status.resolved", sc.encode(body));
    expect(ack.stream).toBe("SIGNALS");
    expect(await signal).toBe(`received signals.status.resolved: ${body}`);
  });

  it("is refused when it publishes a job, and JOBS holds no more messages than before", async () => {
    const jsm = await connections[0].jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    const before = (await jsm.streams.info("JOBS")).state.messages;
    const subject = JOB_SUBJECTS[0];
    expect(await step(page, "publish a job", "publishJob", subject)).toBe(`publish ${subject}: PERMISSIONS_VIOLATION (publish ${subject})`);
    expect((await jsm.streams.info("JOBS")).state.messages).toBe(before);
  });

  it("is refused when it reads JOBS through the JetStream API", async () => {
    const result = await step(page, "read JOBS", "readJobs");
    expect(result).toMatch(/Permissions Violation for Publish to "\$JS\.API\.STREAM\.MSG\.GET\.JOBS"/i);
    expect(result).not.toMatch(/got message/);
  });

  it("is refused when it creates a consumer on JOBS, and no consumer is made", async () => {
    const result = await step(page, "create a consumer", "createConsumer", "browser-tab");
    expect(result).toMatch(/Permissions Violation for Publish to "\$JS\.API\.CONSUMER\.CREATE\.JOBS\.browser-tab"/i);
    const jsm = await connections[0].jetstreamManager({ timeout: ADMIN_TIMEOUT_MS });
    const names: string[] = [];
    for await (const name of jsm.consumers.list("JOBS")) names.push(name.name);
    expect(names).not.toContain("browser-tab");
  });
});

describe("the WebSocket listener's other gates", () => {
  it("refuses a page of an origin the stack does not list (the same credentials, another port)", async () => {
    const page = await openPage(other);
    try {
      const login = frontendLogin();
      const result = await step(page, `connect from ${other}`, "connect", login);
      expect(result).toMatch(/^connect refused: /);
      // The server refused the upgrade itself (origin check), not a later login.
      expect(consoles.get(page)!.join("\n")).toMatch(/WebSocket handshake: Unexpected response code: 403/);
    } finally {
      await page.close();
    }
  });

  it("refuses the frontend's credentials on the client port: they are good over WebSocket only", async () => {
    const err = await connectAs(cluster.servers, "fluo-frontend").then(
      (nc) => {
        connections.push(nc);
        return "connected";
      },
      (e: unknown) => String(e),
    );
    expect(err).toMatch(/authorization violation/i);
  });

  it("refuses a tab's subscriptions past its account's max_subscriptions: the server keeps 8 and sends an -ERR for the rest", async () => {
    const page = await openPage(allowed);
    try {
      const login = frontendLogin();
      expect(await step(page, "connect (second tab)", "connect", login)).toMatch(/^connected/);
      // nats.ws reports the server's -ERR "maximum subscriptions exceeded" by its code only.
      expect(await step(page, "subscribe 20 times", "subscribeMany", 20)).toBe("server: NATS_PROTOCOL_ERR");
      // And the server kept no more than the account allows for that connection.
      const connz = (await (await fetch(`${cluster.nodes[0].monitorUrl}/connz?acc=FRONTEND&subs=1`)).json()) as { connections: Array<{ subscriptions_list?: string[] }> };
      const counts = connz.connections.map((c) => c.subscriptions_list?.length ?? 0);
      console.log(`server: FRONTEND connections' subscriptions ${JSON.stringify(counts)} (max_subscriptions ${FRONTEND_CONNECTION_LIMITS.maxSubscriptions})`);
      expect(Math.max(...counts)).toBe(FRONTEND_CONNECTION_LIMITS.maxSubscriptions);
    } finally {
      await page.close();
    }
  });
});
