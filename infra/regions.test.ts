// Two regions as the pure core renders them (docs/regions.md): what a primary and a standby stack put in nats.conf
// and in their catalogs, and that a stack without a region renders exactly as before. The live behaviour (the
// leafnode, the mirrors, failover and failback) is infra/regions.live.test.ts.

import { describe, expect, it } from "vitest";
import { deploymentModel, renderFiles } from "../model";
import { parseStackConfig, type StackConfig } from "./stackConfig";
import { readStackFileValues } from "./stackFile";
import { dataSubjects } from "../streams/catalog";
import { subjectMatches } from "./permissions";

const prod = readStackFileValues("prod");
const PEER_URL = "nats-leaf://eu.example:7422";

function stack(extra: Record<string, unknown>): StackConfig {
  return parseStackConfig("prod", { ...prod, ...extra });
}
const primary = (): StackConfig => stack({ region: "eu", peerRegion: "us", leafPassword: "leaf-pw", leafHostnames: ["nats-leaf.eu.example"] });
const standby = (): StackConfig =>
  stack({
    region: "us",
    peerRegion: "eu",
    leafPassword: "leaf-pw",
    regionRole: "standby",
    clusterName: "fluo-cluster-us",
    peerLeafUrls: [PEER_URL],
    leafHostnames: ["nats-leaf.us.example"],
  });

function natsConf(config: StackConfig): string {
  return renderFiles(deploymentModel(config)).find((f) => f.path === "nats.conf")!.content;
}

/** The top-level block `name { ... }` of a rendered nats.conf (blocks close with a "}" at column 0). */
function block(conf: string, name: string): string | undefined {
  const start = conf.indexOf(`\n${name} {\n`);
  if (start < 0) return undefined;
  return conf.slice(start + 1, conf.indexOf("\n}\n", start) + 2);
}

describe("a stack without a region", () => {
  it("renders no leafnode block, no JetStream domain and no leaf Service: the single-region stack is unchanged", () => {
    const files = renderFiles(deploymentModel(stack({})));
    const conf = files.find((f) => f.path === "nats.conf")!.content;
    expect(block(conf, "leafnodes")).toBeUndefined();
    expect(block(conf, "jetstream")).not.toMatch(/domain/);
    expect(files.map((f) => f.path).filter((p) => p.includes("leaf"))).toEqual([]);
  });
});

describe("a primary region", () => {
  it("is a JetStream domain of its own and listens for its standby's leafnode, with no remote of its own", () => {
    const conf = natsConf(primary());
    expect(block(conf, "jetstream")).toMatch(/\n  domain: "eu"\n/);
    const leaf = block(conf, "leafnodes")!;
    expect(leaf).toMatch(/listen: "0\.0\.0\.0:7422"/);
    // TLS on the listener (prod has TLS), and the one leaf user lands in the stream account only.
    expect(leaf).toMatch(/tls \{/);
    expect(leaf).toMatch(/users: \[\{ user: "fluo-leaf", password: "[^"]+", account: "FLUO" \}\]/);
    expect(leaf).not.toMatch(/remotes/);
  });

  it("keeps its declared streams, each with its own subjects", () => {
    const { catalog } = deploymentModel(primary());
    expect(catalog.streams.map((s) => [s.name, s.mirror === undefined, s.subjects.length > 0])).toEqual([
      ["JOBS", true, true],
      ["SIGNALS", true, true],
      ["EVENTS", true, true],
      ["DEADLETTER", true, true],
    ]);
  });
});

describe("the leafnode's TLS", () => {
  it("the server certificate names the hosts the peer dials (leafHostnames), beside the in-cluster names", () => {
    const files = renderFiles(deploymentModel(primary()));
    const certificate = files.find((f) => f.path.includes("certificate-nats-server"))!.content;
    expect(certificate).toMatch(/\n\s+- nats-leaf\.eu\.example\n/);
    expect(certificate).toMatch(/\n\s+- nats\.fluo-queue\.svc\.cluster\.local\n/);
  });
});

describe("a standby region", () => {
  it("connects to its primary's leafnode URLs in the stream account, with the leaf user's credentials and the primary's CA", () => {
    const leaf = block(natsConf(standby()), "leafnodes")!;
    expect(leaf).toMatch(/remotes: \[/);
    expect(leaf).toMatch(/"nats-leaf:\/\/fluo-leaf:[^@"]+@eu\.example:7422"/);
    expect(leaf).toMatch(/\n      account: "FLUO"\n/);
    expect(leaf).toMatch(/tls \{\n\s+ca_file: "\/etc\/nats-tls\/ca\.crt"/);
  });

  it("lets no stream subject and no advisory cross the link, either way", () => {
    const model = deploymentModel(standby());
    const leaf = block(natsConf(standby()), "leafnodes")!;
    const listed = (key: string): string[] => {
      const m = new RegExp(`${key}: \\[\\n([^\\]]*)\\]`).exec(leaf);
      return m ? [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]) : [];
    };
    expect(listed("deny_imports")).toEqual(model.leafDenied);
    expect(listed("deny_exports")).toEqual(model.leafDenied);
    // Every subject a stream stores (as declared in the primary) is covered, and so are the server advisories
    // (DEADLETTER stores them: a standby's own advisories must not land in the primary's stream).
    const declared = deploymentModel(primary()).catalog;
    for (const subject of [...dataSubjects(declared), "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.x"]) {
      expect(model.leafDenied.some((d) => subjectMatches(d, subject)), subject).toBe(true);
    }
  });

  it("keeps EVENTS and DEADLETTER as mirrors of the primary's through its domain's API; JOBS and SIGNALS as its own", () => {
    const { catalog } = deploymentModel(standby());
    const byName = Object.fromEntries(catalog.streams.map((s) => [s.name, s]));
    expect(byName.EVENTS).toMatchObject({ subjects: [], publishers: [], mirror: { name: "EVENTS", domain: "eu" } });
    expect(byName.DEADLETTER).toMatchObject({ subjects: [], publishers: [], mirror: { name: "DEADLETTER", domain: "eu" } });
    expect(byName.JOBS.mirror).toBeUndefined();
    expect(byName.SIGNALS.mirror).toBeUndefined();
    expect(byName.JOBS.subjects.length).toBeGreaterThan(0);
  });

  it("gives no identity a publish right on a mirrored stream's subjects, nor on another domain's JetStream API", () => {
    const { grants } = deploymentModel(standby());
    for (const { spec, permissions } of grants) {
      const { allow, deny } = permissions.publish;
      for (const subject of ["events.user.login", "events.system.tick", "$JS.eu.API.INFO", "$JS.eu.API.STREAM.INFO.EVENTS"]) {
        const allowed = allow.some((p) => subjectMatches(p, subject)) && !deny.some((p) => subjectMatches(p, subject));
        expect(allowed, `${spec.name} publish ${subject}`).toBe(false);
      }
    }
  });

  it("promoted (regionRole primary, no peerLeafUrls), renders its streams as declared and drops the remote", () => {
    const promoted = stack({ region: "us", peerRegion: "eu", leafPassword: "leaf-pw", clusterName: "fluo-cluster-us", leafHostnames: ["nats-leaf.us.example"] });
    expect(deploymentModel(promoted).catalog).toEqual(deploymentModel(primary()).catalog);
    expect(block(natsConf(promoted), "leafnodes")).not.toMatch(/remotes/);
    expect(block(natsConf(promoted), "jetstream")).toMatch(/domain: "us"/);
  });
});
