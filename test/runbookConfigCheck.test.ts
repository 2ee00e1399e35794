// The runbook's config check (README, NatsServerRestarting) run as written: render a stack, then the README's
// `nats-server -t` line on the rendered nats.conf. The rendered config names the server through $SERVER_NAME
// (set per pod), so the line must set it, or nats-server refuses the file.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCliSync } from "../cli/cli.testkit";
import { natsServerBinary } from "../local/localCluster";

const README = readFileSync(join(__dirname, "..", "README.md"), "utf8");

describe("the runbook's nats-server -t line", () => {
  it("validates the rendered nats.conf (a stack without TLS) exactly as the README writes it", () => {
    const command = /`((?:[A-Z_]+=\S+ )*)nats-server -t -c out\/<env>\/nats\.conf`/.exec(README);
    expect(command, "README names no `nats-server -t -c out/<env>/nats.conf` line").not.toBeNull();
    const env = Object.fromEntries(command![1].trim().split(/\s+/).filter((a) => a !== "").map((a) => a.split("=") as [string, string]));

    const out = mkdtempSync(join(tmpdir(), "runbook-render-"));
    // dev: without TLS, so the file check needs no certificates (with TLS the README sends you into the pod).
    expect(runCliSync("cli/render.ts", ["--stack", "dev", "--out", out]).code).toBe(0);
    const conf = join(out, "nats.conf");
    const referenced = [...readFileSync(conf, "utf8").matchAll(/^\s*\w+: \$([A-Z_][A-Z0-9_]*)$/gm)].map((m) => m[1]);
    expect(referenced).toContain("SERVER_NAME");
    for (const name of referenced) expect(Object.keys(env), `the README's line does not set ${name}`).toContain(name);

    const bare = { ...process.env };
    delete bare.SERVER_NAME;
    const check = spawnSync(natsServerBinary(), ["-t", "-c", conf], { env: { ...bare, ...env }, encoding: "utf8" });
    expect(check.status, check.stderr).toBe(0);
    expect(`${check.stdout}${check.stderr}`).toMatch(/configuration file .*nats\.conf is valid/);
    // The trap the line avoids: without the variable the same check fails on server_name.
    const without = spawnSync(natsServerBinary(), ["-t", "-c", conf], { env: bare, encoding: "utf8" });
    expect(without.status).not.toBe(0);
    expect(without.stderr).toContain("SERVER_NAME");
  });

  it("with TLS, the in-pod line names the container, the config path and relies on SERVER_NAME as the StatefulSet sets them", () => {
    const line = /`kubectl -n <namespace> exec nats-0 -c (\S+) -- nats-server -t -c (\S+)`/.exec(README);
    expect(line, "README names no in-pod nats-server -t line").not.toBeNull();
    const out = mkdtempSync(join(tmpdir(), "runbook-render-tls-"));
    expect(runCliSync("cli/render.ts", ["--stack", "prod", "--out", out]).code).toBe(0);
    expect(readFileSync(join(out, "nats.conf"), "utf8")).toContain("/etc/nats-tls/");
    const sts = readFileSync(join(out, "kubernetes/06-statefulset-nats.yaml"), "utf8");
    expect(sts).toMatch(new RegExp(`- name: ${line![1]}\\n\\s+image: nats:`));
    expect(sts).toContain(`- ${line![2]}`);
    expect(sts).toMatch(/- name: SERVER_NAME\n/);
  });
});
