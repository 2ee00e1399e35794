// Reads Pulumi.<stack>.yaml without the Pulumi CLI: render, drift, local and the tests see the same validated
// config the program gets from the engine, secrets left encrypted and unread.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { parseStackConfig, PROJECT, SECRET_KEYS, type StackConfig } from "./stackConfig";

/** A stack name or stack file the user got wrong: one line naming it, never a stack trace. */
export class StackFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackFileError";
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
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new StackFileError(`--stack "${stack}": letters, digits, '.', '-', '_' only`);
  const file = join(root, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) throw new StackFileError(`--stack ${stack}: no ${file}; create it with \`pulumi stack init ${stack}\``);
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (!key.startsWith(`${PROJECT}:`)) continue;
    const name = key.slice(PROJECT.length + 1);
    const encrypted = typeof value === "object" && value !== null && "secure" in value;
    if (encrypted && !(SECRET_KEYS as readonly string[]).includes(name)) {
      throw new StackFileError(`${key} in ${file} is encrypted, but only ${SECRET_KEYS.join(", ")} are read as secrets`);
    }
    raw[name] = value;
  }
  return raw;
}

