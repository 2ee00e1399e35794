// The live tests prove things about one nats-server version: the image's (tools/versions.json "nats-server"),
// or with FLUO_NATS_SERVER=previous the previous minor line. This checks what actually answered: a server
// started the way every live test starts one reports that version over its monitor endpoint and in INFO.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { passwordHashes } from "../infra/passwordHash";
import { userGrants } from "../infra/userGrants";
import { imageTagVersion, parseStackConfig } from "../infra/stackConfig";
import { LocalCluster } from "../local/localCluster";
import { natsServerTool, pinnedVersion } from "../tools/resolve";
import { connectAs, TEST_PASSWORDS } from "./natsProbe.testkit";

const imageVersion = imageTagVersion(parseStackConfig("t", {}).natsImage);
const pass = natsServerTool();

let cluster: LocalCluster;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "fluo-version-"));
  cluster = await LocalCluster.start({
    config: parseStackConfig("t", { replicas: 1 }),
    grants: userGrants(),
    hashes: passwordHashes(TEST_PASSWORDS),
    stateDir,
  });
});

afterAll(async () => {
  await cluster?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe(`the nats-server the live tests run on (${pass})`, () => {
  it("the default image tag and tools/versions.json pin the same nats-server version", () => {
    expect(imageVersion).toBeDefined();
    expect(pinnedVersion("nats-server")).toBe(imageVersion);
  });

  it("the previous pass pins the newest line before the image's minor", () => {
    const [major, minor] = imageVersion!.split(".").map(Number);
    const [prevMajor, prevMinor] = pinnedVersion("nats-server-previous").split(".").map(Number);
    expect([prevMajor, prevMinor]).toEqual([major, minor - 1]);
  });

  it("reports this pass's pinned version over /varz and in INFO", async () => {
    const expected = pinnedVersion(pass);
    const varz = (await (await fetch(`${cluster.nodes[0].monitorUrl}/varz`)).json()) as { version: string };
    expect(varz.version).toBe(expected);
    const nc = await connectAs(cluster.servers, "fluo-bff");
    try {
      expect(nc.info?.version).toBe(expected);
    } finally {
      await nc.close();
    }
    if (pass === "nats-server") expect(varz.version).toBe(imageVersion);
  });
});
