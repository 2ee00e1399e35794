// `pulumi up` loads index.ts with the SDK's own TypeScript loader (its vendored ts-node with the project's
// typescript and tsconfig.json), not with vitest or tsx. Load it exactly that way, under mocks.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "..");

const script = `
const path = require("path");
const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
require(path.join(sdk, "vendor", "ts-node@7.0.1")).register({ compiler: "typescript", project: "tsconfig.json", compilerOptions: {} });
const pulumi = require("@pulumi/pulumi");
const types = [];
pulumi.runtime.setMocks({
  newResource: (a) => { types.push(a.type); return { id: a.name, state: { ...a.inputs, result: "pw-" + a.name, base64: "Ynl0ZXM=" } }; },
  call: (a) => a.inputs,
}, "fluo-queue", "dev", false);
pulumi.runtime.setAllConfig({ "fluo-queue:replicas": "3" });
const program = require("./index.ts");
program.clientUrl && setTimeout(() => console.log(JSON.stringify({ exports: Object.keys(program), types })), 500);
`;

describe("Pulumi's TypeScript loader", () => {
  it("loads and type-checks index.ts as CommonJS and registers the cluster", () => {
    const run = spawnSync(process.execPath, ["-e", script], { cwd: root, encoding: "utf8", timeout: 120_000 });
    // Only the expected warning (streams unmanaged without natsUrl) may reach stderr: no type or load error.
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout.trim().split("\n").pop()!) as { exports: string[]; types: string[] };
    expect(result.exports).toEqual(expect.arrayContaining(["clientUrl", "passwords"]));
    expect(result.types).toContain("kubernetes:apps/v1:StatefulSet");
  });
});
