// Moving the dev stack to NKEYs through password+nkey only adds resources (a RandomBytes seed per identity): no
// URN of urns.dev.txt changes or goes, so the switch replaces nothing live.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { programUrns } from "./pulumiProgram.testkit";
import { catalogForStack } from "../streams/catalog";
import { readStackConfig } from "../infra/stackFile";
import { userSpecs } from "../infra/users";

it("authentication password+nkey registers every URN of the dev stack plus one NKEY seed per identity", async () => {
  const catalog = catalogForStack(readStackConfig("dev"));
  const urns = await programUrns("dev", catalog.streams.length + catalog.consumers.length, { authentication: "password+nkey" });
  const before = readFileSync(join(__dirname, "urns.dev.txt"), "utf8").trim().split("\n");
  expect(urns.filter((u) => !before.includes(u))).toEqual(
    userSpecs()
      .map((u) => `urn:pulumi:dev::fluo-queue::fluo-queue:infra:NatsCluster$random:index/randomBytes:RandomBytes::${u.name}-nkey-seed`)
      .sort(),
  );
  expect(before.filter((u) => !urns.includes(u))).toEqual([]);
});
