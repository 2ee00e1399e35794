// Pulumi.yaml's typed `config:` block, the zod schema and the README's config reference describe the same keys
// with the same defaults: a key added to one and forgotten in another fails here.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { UNTYPED_KEYS, parseStackConfig, PROJECT, SECRET_KEYS, stackConfigSchema } from "../infra/stackConfig";

const root = join(__dirname, "..");
const project = parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as {
  name: string;
  main: string;
  options?: { refresh?: string };
  config: Record<string, { type?: string; default?: unknown; secret?: boolean; description?: string; value?: unknown }>;
};
const declared = Object.entries(project.config).filter(([key]) => !key.includes(":"));
const schemaKeys = Object.keys(stackConfigSchema.shape);

describe("Pulumi.yaml", () => {
  it("names the project and entry point the code expects", () => {
    expect(project.name).toBe(PROJECT);
    expect(project.main).toBe("index.ts");
    expect(project.config["pulumi:disable-default-providers"].value).toEqual(["kubernetes"]);
  });

  it("does not refresh implicitly: plain pulumi preview/up/destroy must work in GitOps mode, where no object can be read back", () => {
    expect(project.options?.refresh).toBeUndefined();
  });

  it("declares every key that has a default, and no key without one (Pulumi would require it)", () => {
    // The engine refuses a stack that lacks a declared key without default ("Stack 'dev' is missing
    // configuration values ..."), and a secret key cannot carry a default: optional keys stay undeclared.
    const defaults = parseStackConfig("t", {}) as unknown as Record<string, unknown>;
    const withDefault = schemaKeys.filter((k) => defaults[k] !== undefined && !(UNTYPED_KEYS as readonly string[]).includes(k));
    expect(declared.map(([k]) => k).sort()).toEqual(withDefault.sort());
    for (const [key, spec] of declared) {
      expect(spec.default, `${key} needs a default`).toBeDefined();
      expect(spec.description, `${key} needs a description`).toBeTruthy();
    }
  });

  it("names every optional key (and each secret) in the comment below the config block", () => {
    const text = readFileSync(join(root, "Pulumi.yaml"), "utf8");
    const defaults = parseStackConfig("t", {}) as unknown as Record<string, unknown>;
    const optional = [...schemaKeys.filter((k) => defaults[k] === undefined), ...SECRET_KEYS];
    for (const key of optional) expect(text, key).toMatch(new RegExp(`^#   ${key}( \\(secret[^)]*\\))?: \\S`, "m"));
    for (const key of SECRET_KEYS) expect(text).toMatch(new RegExp(`^#   ${key} \\(secret`, "m"));
  });

  it("states the same defaults as the schema", () => {
    const defaults = parseStackConfig("t", {}) as unknown as Record<string, unknown>;
    for (const [key, spec] of declared) expect(spec.default, key).toEqual(defaults[key]);
  });

  it("README's config reference lists every key", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    for (const key of [...schemaKeys, ...SECRET_KEYS]) expect(readme, key).toContain(`\`${key}\``);
  });
});
