// The prod stack's URNs under mocks, against the list committed beside this file: a file move or a renamed
// component that changed one would make `pulumi up` replace live resources (streams, the StatefulSet).

import { expect, it } from "vitest";
import { programUrns } from "./pulumiProgram.testkit";
import { catalogForStack } from "../streams/catalog";
import { readStackConfig } from "../infra/stackFile";

it("registers every resource of the prod stack under the URN it had before", async () => {
  const catalog = catalogForStack(readStackConfig("prod"));
  const urns = await programUrns("prod", catalog.streams.length + catalog.consumers.length);
  expect(urns.filter((u) => /pulumi-nodejs:dynamic\/fluo-queue:(Stream|Consumer)::/.test(u))).toHaveLength(catalog.streams.length + catalog.consumers.length);
  await expect(urns.join("\n") + "\n").toMatchFileSnapshot("./urns.prod.txt");
});
