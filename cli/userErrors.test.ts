// Every user error, as a child process shows it: exactly one line on stderr naming the flag, file or key and
// what is allowed, exit 1, no stack trace, nothing written.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expectOneLineError, PROJECT_ROOT, runCliSync } from "./cli.testkit";

const dir = mkdtempSync(join(tmpdir(), "fluo-cli-errors-"));
const stackFiles: string[] = [];

/** A throw-away stack beside Pulumi.yaml (where stack files must live), removed after the tests. */
function stack(content: string): string {
  const name = `clitest-${process.pid}-${stackFiles.length}`;
  const file = join(PROJECT_ROOT, `Pulumi.${name}.yaml`);
  writeFileSync(file, content);
  stackFiles.push(file);
  return name;
}

afterAll(() => {
  for (const f of stackFiles) rmSync(f, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

const render = (...args: string[]) => runCliSync("cli/render.ts", args);
const out = (): string => join(mkdtempSync(join(dir, "out-")), "render");

describe("render: user errors are one line", () => {
  it("--passwords naming a missing file", () => {
    const line = expectOneLineError(render("--stack", "dev", "--out", out(), "--passwords", join(dir, "nope.json")), "render");
    expect(line).toMatch(/--passwords .*nope\.json: no such file; it must be a JSON object of user name to password/);
  });

  it("--passwords holding invalid JSON", () => {
    const file = join(dir, "broken.json");
    writeFileSync(file, '{"fluo-bff": ');
    expect(expectOneLineError(render("--stack", "dev", "--out", out(), "--passwords", file), "render")).toMatch(/--passwords .*broken\.json: not valid JSON/);
  });

  it("--passwords holding a list, or a non-string password", () => {
    const list = join(dir, "list.json");
    writeFileSync(list, '["bff-password"]');
    expect(expectOneLineError(render("--stack", "dev", "--out", out(), "--passwords", list), "render")).toMatch(/list\.json: holds a list; it must be a JSON object/);
    const number = join(dir, "number.json");
    writeFileSync(number, '{"fluo-bff": 42}');
    expect(expectOneLineError(render("--stack", "dev", "--out", out(), "--passwords", number), "render")).toMatch(/"fluo-bff" is 42; every password must be a non-empty string/);
  });

  it("--out pointing at a file, which stays as it was", () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "keep");
    expect(expectOneLineError(render("--stack", "dev", "--out", file), "render")).toMatch(/--out .*a-file: is a file; give a directory/);
  });

  it("a stack file with bad YAML names the file and the line", () => {
    const name = stack("config:\n  fluo-queue:replicas: 3\n   fluo-queue:namespace: [oops\n");
    expect(expectOneLineError(render("--stack", name, "--out", out()), "render")).toMatch(new RegExp(`Pulumi\\.${name}\\.yaml: not valid YAML: .*line \\d+`));
  });

  it("an empty stack file, or config: given as a list", () => {
    expect(expectOneLineError(render("--stack", stack(""), "--out", out()), "render")).toMatch(/\.yaml: empty; a stack file holds a `config:` map/);
    const list = stack("config:\n  - fluo-queue:replicas: 3\n");
    expect(expectOneLineError(render("--stack", list, "--out", out()), "render")).toMatch(/\.yaml: `config:` must be a map of fluo-queue:<key>: <value>, not a list/);
  });

  it("an unknown flag, a missing value and a stray word", () => {
    expect(expectOneLineError(render("--stack", "dev", "--out", out(), "--colour"), "render")).toMatch(/unknown argument "--colour"; allowed: --stack <name>, --out <dir\|->/);
    expect(expectOneLineError(render("--stack", "dev", "--out"), "render")).toMatch(/--out needs a value \(<dir\|->\)/);
    expect(expectOneLineError(render("--stack", "dev", "prod"), "render")).toMatch(/unexpected argument "prod"/);
  });

  it("a bad value of a key: the key, the value and the right spelling", () => {
    const name = stack("config:\n  fluo-queue:storageSize: 3GiB\n");
    expect(expectOneLineError(render("--stack", name, "--out", out()), "render")).toMatch(
      /invalid stack config: fluo-queue:storageSize = "3GiB": not a Kubernetes quantity .*write "3Gi"/,
    );
    const cpu = stack("config:\n  fluo-queue:cpuRequest: 500Mi\n");
    expect(expectOneLineError(render("--stack", cpu, "--out", out()), "render")).toMatch(
      /invalid stack config: fluo-queue:cpuRequest = "500Mi": "Mi" is a binary suffix for bytes: .*; write "500m"\. Allowed: a CPU quantity/,
    );
  });
});

describe("stack file warnings", () => {
  it("a password in plain text renders, with a warning giving the pulumi config set --secret command", () => {
    const name = stack("config:\n  fluo-queue:environment: dev\n  fluo-queue:bffPassword: hunter2\n");
    const run = render("--stack", name, "--out", out());
    expect(run.code).toBe(0);
    expect(run.stderr.trim()).toBe(
      `warning: fluo-queue:bffPassword in ${join(PROJECT_ROOT, `Pulumi.${name}.yaml`)} is in plain text: anyone who can read the file ` +
        `(or the repository) has it. Encrypt it with \`pulumi config set --secret fluo-queue:bffPassword <value> --stack ${name}\``,
    );
  });
});

describe("backup and restore: user errors are one line, checked before connecting", () => {
  const backup = (...args: string[]) => runCliSync("cli/backup.ts", ["backup", ...args]);

  it("--out - is refused, and no folder named - appears", () => {
    const cwd = mkdtempSync(join(dir, "cwd-"));
    const run = runCliSync("cli/backup.ts", ["backup", "--url", "nats://127.0.0.1:1", "--password", "x", "--stream", "JOBS", "--out", "-"], { cwd });
    expect(expectOneLineError(run, "backup")).toMatch(/--out -: a backup is a directory/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("an existing backup is never overwritten", () => {
    const existing = join(dir, "old-backup");
    mkdirSync(existing);
    writeFileSync(join(existing, "backup.json"), "{}");
    const run = backup("--url", "nats://127.0.0.1:1", "--password", "x", "--stream", "JOBS", "--out", existing);
    expect(expectOneLineError(run, "backup")).toMatch(/--out .*old-backup: not empty .*nothing was overwritten/);
    expect(readdirSync(existing)).toEqual(["backup.json"]);
  });

  it("the README's ./backup/<stream>-<date> folders are ignored by git", () => {
    const check = spawnSync("git", ["check-ignore", "-q", "backup/JOBS-2025-09-21/backup.json"], { cwd: PROJECT_ROOT });
    expect(check.status).toBe(0);
    expect(spawnSync("git", ["check-ignore", "-q", "streams/ops/backup.ts"], { cwd: PROJECT_ROOT }).status).toBe(1);
  });

  it("restore from a directory that is no backup", () => {
    const empty = mkdtempSync(join(dir, "empty-"));
    const run = runCliSync("cli/backup.ts", ["restore", "--url", "nats://127.0.0.1:1", "--password", "x", "--dir", empty]);
    expect(expectOneLineError(run, "restore")).toMatch(/--dir .*: no backup\.json, not a backup directory/);
  });

  it("an unreachable server is named with what to check, not a bare TIMEOUT", () => {
    const run = backup("--url", "nats://127.0.0.1:1", "--password", "x", "--stream", "JOBS", "--out", join(dir, "unreached"));
    const lines = run.stderr.trimEnd().split("\n");
    expect(run.code).toBe(1);
    expect(lines).toEqual([
      "backup: connecting to nats://127.0.0.1:1 as fluo-backup (credentials from --password; gives up after 5 s)",
      expect.stringMatching(/^backup: cannot reach NATS at nats:\/\/127\.0\.0\.1:1 \(CONNECTION_REFUSED\)\. Is the URL right/),
    ]);
  });

  it("no credentials at all names every way to give them", () => {
    const run = backup("--url", "nats://127.0.0.1:1", "--stream", "JOBS", "--out", join(dir, "new-backup"), "--state-dir", join(dir, "no-state"));
    expect(expectOneLineError(run, "backup")).toMatch(
      /no credentials for fluo-backup: nats:\/\/127\.0\.0\.1:1 is not the local cluster of .*; pass --context <nats CLI context file>, or --url with --password or FLUO_QUEUE_BACKUP_PASSWORD/,
    );
    expect(existsSync(join(dir, "new-backup"))).toBe(false);
  });
});

describe("drift: user errors are one line", () => {
  it("--context naming another user's file than --user", () => {
    const context = join(dir, "fluo-bff.json");
    writeFileSync(context, JSON.stringify({ url: "nats://127.0.0.1:1", user: "fluo-bff", password: "x", inbox_prefix: "_INBOX_FLUO_BFF" }));
    const run = runCliSync("cli/drift.ts", ["--stack", "dev", "--context", context, "--user", "fluo-provisioner"]);
    expect(expectOneLineError(run, "drift")).toMatch(/--context .*fluo-bff\.json: is a context of fluo-bff, this command runs as fluo-provisioner/);
  });

  it("a context whose ca names a missing file, or --ca naming a directory or a missing file, is refused before connecting", () => {
    const context = join(dir, "fluo-provisioner-ca.json");
    const missing = join(dir, "no-such-ca.crt");
    writeFileSync(context, JSON.stringify({ url: "tls://127.0.0.1:1", user: "fluo-provisioner", password: "x", inbox_prefix: "_INBOX_FLUO_PROVISIONER", ca: missing }));
    const run = runCliSync("cli/drift.ts", ["--stack", "dev", "--context", context]);
    expect(expectOneLineError(run, "drift")).toBe(`drift: --context ${context}: ca ${missing}: no such file; give the CA certificate (PEM) of the servers`);
    const withPassword = runCliSync("cli/drift.ts", ["--stack", "dev", "--url", "tls://127.0.0.1:1", "--password", "x", "--ca", dir]);
    expect(expectOneLineError(withPassword, "drift")).toBe(`drift: --ca ${dir}: is a directory; give the CA certificate (PEM) of the servers`);
    const credentials = mkdtempSync(join(dir, "credentials-"));
    for (const user of ["fluo-bff", "fluo-backend", "fluo-workers", "fluo-provisioner"]) {
      writeFileSync(join(credentials, `${user}.json`), JSON.stringify({ url: "tls://127.0.0.1:1", user, password: "x", inbox_prefix: "_INBOX" }));
    }
    const bench = runCliSync("bench/dataPath.ts", ["--credentials", credentials, "--ca", missing]);
    expect(expectOneLineError(bench, "bench")).toBe(`bench: --ca ${missing}: no such file; give the CA certificate (PEM) of the servers`);
  });

  it("an unreachable server: one line with the URL, after a line saying what it waits for", () => {
    const run = runCliSync("cli/drift.ts", ["--stack", "dev", "--url", "nats://127.0.0.1:1", "--password", "x"]);
    const lines = run.stderr.trimEnd().split("\n");
    expect(run.code).toBe(1);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe("drift: connecting to nats://127.0.0.1:1 as fluo-provisioner (credentials from --password; gives up after 5 s)");
    expect(lines[1]).toMatch(/^drift: cannot reach NATS at nats:\/\/127\.0\.0\.1:1 /);
  });
});

describe("local: user errors are one line", () => {
  it("--auth with a mode that is not one, naming the flag, the value and the modes, before anything is made", () => {
    const stateDir = join(dir, "local-bogus-auth");
    const run = runCliSync("cli/local.ts", ["--auth", "bogus", "--state-dir", stateDir]);
    expect(expectOneLineError(run, "local")).toBe('local: --auth "bogus": must be one of password, password+nkey, nkey');
    expect(run.stdout).toBe("");
    expect(existsSync(stateDir)).toBe(false);
  });
});
