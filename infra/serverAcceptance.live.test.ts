// Boundary values of every stack key that lands in nats.conf as a number or a duration, rendered into the dev
// config and checked with the pinned `nats-server -t` (both passes: the image's version and the previous minor).
// What the stack config accepts, the server must accept; what the server refuses, the stack config must refuse
// first, in one line naming the key (issue 19: lameDuckDuration 5s rendered, and then every server exited).
// The config may refuse more than the server (a store that no volume holds): that direction has its own reason.

import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, parseStackConfig, type StackConfig } from "./stackConfig";
import { readStackFileValues } from "./stackFile";
import { natsConfInput } from "./renderCluster";
import { kubernetesTopology } from "./clusterLayout";
import { renderNatsConf } from "./natsConfig";
import { REDACTED_HASHES } from "./passwordHash";
import { deploymentModel } from "../model";
import { natsServerBinary } from "../local/localCluster";

const devValues = readStackFileValues("dev");
const valid = parseStackConfig("dev", devValues);
const { grants } = deploymentModel(valid);

/** Exact bytes of a size as written, beyond what a JavaScript number holds (for what the config never renders). */
function exactBytes(text: string): bigint | undefined {
  const m = /^(\d+)(Ti|Gi|Mi|Ki|PiB|TiB|GiB|MiB|KiB|B)?$/.exec(text);
  if (!m) return undefined;
  const power = { Ki: 10, KiB: 10, Mi: 20, MiB: 20, Gi: 30, GiB: 30, Ti: 40, TiB: 40, PiB: 50, B: 0 }[m[2] ?? "B"] ?? 0;
  return BigInt(m[1]) * 2n ** BigInt(power);
}

/** nats.conf of the dev stack with one key set to `value`, whether or not the stack config would take it. */
function renderWith(key: "lameDuckDuration" | "maxMemoryStore" | "maxFileStore" | "clusterName", value: string): string {
  const placeholder = 123_456_789;
  const config: StackConfig =
    key === "maxMemoryStore" || key === "maxFileStore"
      ? { ...valid, [key]: value, bytes: { ...valid.bytes, [key]: placeholder } }
      : { ...valid, [key]: value };
  const conf = renderNatsConf(natsConfInput(config, kubernetesTopology(config), grants, REDACTED_HASHES));
  if (key !== "maxMemoryStore" && key !== "maxFileStore") return conf;
  const bytes = exactBytes(value);
  return conf.replace(`${key === "maxFileStore" ? "max_file_store" : "max_memory_store"}: ${placeholder}`, `${key === "maxFileStore" ? "max_file_store" : "max_memory_store"}: ${bytes ?? value}`);
}

function configVerdict(key: string, value: string): { accepted: boolean; line?: string } {
  try {
    parseStackConfig("dev", { ...devValues, [key]: value });
    return { accepted: true };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { accepted: false, line: err.message };
  }
}

function serverVerdict(conf: string): { accepted: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "fluo-accept-"));
  try {
    const file = join(dir, "nats.conf");
    writeFileSync(file, conf);
    // The pod's environment: the server name comes from the pod name.
    const run = spawnSync(natsServerBinary(), ["-t", "-c", file], { env: { PATH: process.env.PATH, SERVER_NAME: "nats-0" }, encoding: "utf8" });
    return { accepted: run.status === 0, output: `${run.stdout}${run.stderr}`.trim().split("\n")[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BOUNDARIES = {
  lameDuckDuration: ["0s", "5s", "29s", "29999ms", "30s", "30000ms", "1m30s", "1h", "1h1s", "9999999999h"],
  maxMemoryStore: ["0", "1", "256MiB", "8191TiB", "8192TiB", "9007199254740991", "9007199254740992", "9223372036854775807", "9223372036854775808", "99999999999999999999Ti"],
  maxFileStore: ["0", "1", "2GiB", "8191TiB", "9223372036854775807", "9223372036854775808", "99999999999999999999Ti"],
  clusterName: ["a", "fluo-cluster_2", "a b", "a.b", "a*b", `x${"y".repeat(200)}`],
} as const;

describe("stack config and nats-server agree on nats.conf values", () => {
  for (const [key, values] of Object.entries(BOUNDARIES) as Array<[keyof typeof BOUNDARIES, readonly string[]]>) {
    it(`${key}: accepted by the config => accepted by the server; refused by the server => refused by the config in one line`, () => {
      const rows: string[] = [];
      for (const value of values) {
        const config = configVerdict(key, value);
        const server = serverVerdict(renderWith(key, value));
        rows.push(`  ${key} = ${JSON.stringify(value)}: config ${config.accepted ? "accepts" : "refuses"}, server ${server.accepted ? "accepts" : `refuses (${server.output})`}`);
        if (config.accepted) expect(server.accepted, `${key} = ${value}: ${server.output}`).toBe(true);
        if (!server.accepted) {
          expect(config.accepted, `${key} = ${value}: the server refuses it (${server.output})`).toBe(false);
          expect(config.line!.split("\n")).toHaveLength(1);
          expect(config.line).toContain(`fluo-queue:${key}`);
        }
      }
      process.stdout.write(`${rows.join("\n")}\n`);
      // The boundaries really are boundaries: each key has a value on both sides.
      expect(rows.some((r) => r.includes("config accepts"))).toBe(true);
      expect(rows.some((r) => r.includes("config refuses"))).toBe(true);
    });
  }
});
