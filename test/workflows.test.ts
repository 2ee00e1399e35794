// The workflows run Pulumi only through the npm scripts of cli/stack.ts, which the engine tests run too
// (test/engine.live.test.ts), so what CI runs cannot drift from what is tested; the README shows the same
// command lines.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { commandLine, OPERATIONS, type OperationName } from "../cli/stack";

const root = join(__dirname, "..");
const scripts = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;

function runSteps(workflow: string): string[] {
  const doc = parse(readFileSync(join(root, ".github", "workflows", workflow), "utf8")) as {
    jobs: Record<string, { steps: Array<{ run?: string }> }>;
  };
  return Object.values(doc.jobs).flatMap((job) => job.steps.map((s) => s.run ?? "").filter((r) => r !== ""));
}

describe("workflows", () => {
  it.each(["preview.yml", "drift.yml", "test.yml"])("%s never runs a Pulumi operation directly", (workflow) => {
    for (const run of runSteps(workflow)) expect(run).not.toMatch(/\bpulumi\s+(preview|up|refresh|destroy)\b/);
  });

  it("preview.yml runs npm run preview on the dev stack; drift.yml runs npm run drift:state per stack", () => {
    expect(runSteps("preview.yml").join("\n")).toContain("npm run --silent preview -- --stack dev");
    expect(runSteps("drift.yml").join("\n")).toContain('npm run --silent drift:state -- --stack "${{ matrix.stack }}"');
  });

  it("every npm script a workflow names exists, and the Pulumi ones go through cli/stack.ts", () => {
    const named = ["preview.yml", "drift.yml", "test.yml"].flatMap((w) => runSteps(w).flatMap((r) => [...r.matchAll(/npm run (?:--silent )?([a-z]+(?::[a-z]+)?)/g)].map((m) => m[1])));
    for (const name of named) expect(scripts[name], name).toBeDefined();
    expect(scripts.preview).toBe("tsx cli/stack.ts preview");
    expect(scripts.deploy).toBe("tsx cli/stack.ts up");
    expect(scripts["drift:state"]).toBe("tsx cli/stack.ts drift");
  });

  it("the README shows the Pulumi command line of every operation", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    for (const name of Object.keys(OPERATIONS) as OperationName[]) expect(readme, name).toContain(commandLine(name, "<stack>"));
  });
});
