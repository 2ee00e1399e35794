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

  it("refreshes before every preview, up and destroy, so out-of-band changes count", () => {
    expect(project.options?.refresh).toBe("always");
  });

  it("declares every key of the schema (object-valued ones excepted) and every secret key", () => {
    const expected = [...schemaKeys.filter((k) => !(UNTYPED_KEYS as readonly string[]).includes(k)), ...SECRET_KEYS];
    expect(declared.map(([k]) => k).sort()).toEqual(expected.sort());
    for (const key of SECRET_KEYS) expect(project.config[key].secret, key).toBe(true);
    for (const [key, spec] of declared) expect(spec.description, `${key} needs a description`).toBeTruthy();
  });

  it("states the same defaults as the schema", () => {
    const defaults = parseStackConfig("t", {}) as unknown as Record<string, unknown>;
    for (const [key, spec] of declared) {
      if (spec.default !== undefined) expect(spec.default, key).toEqual(defaults[key]);
      else if (!(SECRET_KEYS as readonly string[]).includes(key)) expect(defaults[key], `${key} has a schema default but none in Pulumi.yaml`).toBeUndefined();
    }
  });

  it("README's config reference lists every key", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    for (const key of [...schemaKeys, ...SECRET_KEYS]) expect(readme, key).toContain(`\`${key}\``);
  });
});
