// Reads Pulumi.<stack>.yaml without the Pulumi CLI, for render/drift/local.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { parseStackConfig, PROJECT, SECRET_KEYS, type StackConfig } from "../infra/stackConfig";

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function projectRoot(): string {
  return join(__dirname, "..");
}

/** The validated config of a stack file; secret (`secure:`) values stay encrypted and unread. */
export function readStackConfig(stack: string, root: string = projectRoot()): StackConfig {
  return parseStackConfig(stack, readStackFileValues(stack, root));
}

/** The raw `fluo-queue:*` values of Pulumi.<stack>.yaml (keys without the namespace), as written there. */
export function readStackFileValues(stack: string, root: string = projectRoot()): Record<string, unknown> {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new UsageError(`--stack "${stack}": letters, digits, '.', '-', '_' only`);
  const file = join(root, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) throw new UsageError(`--stack ${stack}: no ${file}; create it with \`pulumi stack init ${stack}\``);
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (!key.startsWith(`${PROJECT}:`)) continue;
    const name = key.slice(PROJECT.length + 1);
    const encrypted = typeof value === "object" && value !== null && "secure" in value;
    if (encrypted && !(SECRET_KEYS as readonly string[]).includes(name)) {
      throw new UsageError(`${key} in ${file} is encrypted, but only ${SECRET_KEYS.join(", ")} are read as secrets`);
    }
    raw[name] = value;
  }
  return raw;
}

/** `--name value` flags and bare `--switch`es; unknown flags are an error naming the allowed ones. */
export function parseFlags(
  argv: readonly string[],
  spec: { values: readonly string[]; switches: readonly string[] },
): { values: Record<string, string>; switches: Set<string> } {
  const values: Record<string, string> = {};
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inline] = arg.startsWith("--") ? arg.slice(2).split(/=(.*)/s, 2) : [undefined, undefined];
    if (name !== undefined && spec.values.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith("--")) throw new UsageError(`--${name} needs a value`);
      values[name] = value;
    } else if (name !== undefined && spec.switches.includes(name) && inline === undefined) {
      switches.add(name);
    } else {
      const allowed = [...spec.values.map((v) => `--${v} <value>`), ...spec.switches.map((s) => `--${s}`)].join(", ");
      throw new UsageError(`unknown argument "${arg}"; allowed: ${allowed}`);
    }
  }
  return { values, switches };
}
