// Prints which nats-server (and Pulumi CLI, kube-apiserver) a test pass runs, before the pass starts, so a CI log says the
// versions the live tests ran on without reading the tests (test/passes.sh calls it per pass).

import { spawnSync } from "node:child_process";
import { natsServer, natsServerVersion, pinnedBinary, requireBinary } from "./resolve";

function main(): void {
  const nats = requireBinary(natsServer());
  process.stdout.write(`nats-server ${natsServerVersion(nats.path)} (${nats.source}: ${nats.path})\n`);
  const pulumi = pinnedBinary("pulumi", "pulumi");
  if (pulumi) {
    const out = spawnSync(pulumi, ["version"], { encoding: "utf8", env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } });
    process.stdout.write(`pulumi ${out.stdout.trim()} (pinned: ${pulumi})\n`);
  }
  // The API server the cluster-mode engine tests apply to (test/kube), when built.
  const apiserver = pinnedBinary("kube-apiserver", "kube-apiserver");
  if (apiserver) {
    const out = spawnSync(apiserver, ["--version"], { encoding: "utf8" });
    process.stdout.write(`kube-apiserver ${out.stdout.trim().replace(/^Kubernetes /, "")} (pinned: ${apiserver})\n`);
  }
}

try {
  main();
} catch (err) {
  // A missing binary is the run's news, not a bug: one line, and the pass itself then fails with the same message.
  process.stdout.write(`nats-server unresolved: ${err instanceof Error ? err.message : String(err)}\n`);
}
