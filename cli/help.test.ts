// `--help` on every command (as its npm script runs it) prints the usage on stdout and exits 0, without
// touching a server, a stack file or the state directory.

import { describe, expect, it } from "vitest";
import { runCliSync } from "./cli.testkit";

// script and leading arguments exactly as package.json runs them
const COMMANDS: Array<[string, string, string[]]> = [
  ["render", "cli/render.ts", []],
  ["local", "cli/local.ts", []],
  ["smoke", "cli/smoke.ts", []],
  ["drift", "cli/drift.ts", []],
  ["backup", "cli/backup.ts", ["backup"]],
  ["restore", "cli/backup.ts", ["restore"]],
  ["bench", "bench/dataPath.ts", []],
  ["bench:provider", "bench/provider.ts", []],
  ["bench:auth", "bench/connectAuth.ts", []],
  ["bench:regions", "bench/regionLink.ts", []],
  ["local:regions", "cli/localRegions.ts", []],
];

describe("--help", () => {
  it.each(COMMANDS)("npm run %s -- --help prints its usage and exits 0", (name, script, lead) => {
    const run = runCliSync(script, [...lead, "--help"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^usage: npm run ${name.replace(":", "\\:")} --`));
    expect(run.stdout).toContain("--help");
  });

  it("lists local mode's --tls and --auth with its modes, and --ca on every command that takes --url", () => {
    const local = runCliSync("cli/local.ts", ["--help"]).stdout;
    expect(local).toMatch(/^ {2}--tls +TLS for clients and routes/m);
    expect(local).toMatch(/^ {2}--auth <password\|password\+nkey\|nkey> +how the users log in for this run, instead of the stack's fluo-queue:authentication/m);
    for (const [script, lead] of [["cli/drift.ts", []], ["cli/backup.ts", ["backup"]], ["cli/backup.ts", ["restore"]], ["bench/dataPath.ts", []]] as const) {
      const help = runCliSync(script, [...lead, "--help"]).stdout;
      expect(help, `${script} ${lead.join(" ")}`).toMatch(/^ {2}--ca <file> +CA certificate \(PEM\)/m);
    }
  });

  it("wins over other flags, even wrong ones", () => {
    const run = runCliSync("cli/render.ts", ["--stack", "no-such-stack", "--colour", "-h"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(/^usage: npm run render -- --stack <name> --out <dir\|->/);
  });
});
