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

/** What a stack file holds that is legal but unwise (a password in plain text): printed, not fatal. */
export type StackFileWarning = (line: string) => void;

const warnOnStderr: StackFileWarning = (line) => process.stderr.write(`warning: ${line}\n`);

/** The validated config of a stack file; secret (`secure:`) values stay encrypted and unread. */
export function readStackConfig(stack: string, root: string = projectRoot(), warn: StackFileWarning = warnOnStderr): StackConfig {
  return parseStackConfig(stack, readStackFileValues(stack, root, warn));
}

function parseYaml(file: string): unknown {
  try {
    return parse(readFileSync(file, "utf8"));
  } catch (err) {
    // yaml's messages carry the line and column, then a code excerpt over several lines: keep the first.
    const first = (err instanceof Error ? err.message : String(err)).split("\n")[0];
    throw new StackFileError(`${file}: not valid YAML: ${first}`);
  }
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The raw `fluo-queue:*` values of Pulumi.<stack>.yaml (keys without the namespace), as written there. */
export function readStackFileValues(stack: string, root: string = projectRoot(), warn: StackFileWarning = warnOnStderr): Record<string, unknown> {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new StackFileError(`--stack "${stack}": letters, digits, '.', '-', '_' only`);
  const file = join(root, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) throw new StackFileError(`--stack ${stack}: no ${file}; create it with \`pulumi stack init ${stack}\``);
  const doc = parseYaml(file);
  // An empty file or a `config:` list would otherwise run the stack on defaults without a word.
  if (doc === null || doc === undefined) throw new StackFileError(`${file}: empty; a stack file holds a \`config:\` map of ${PROJECT}:<key>: <value>`);
  if (!isMap(doc)) throw new StackFileError(`${file}: must be a map with a \`config:\` key, not ${describe(doc)}`);
  const config = doc.config ?? {};
  if (!isMap(config)) throw new StackFileError(`${file}: \`config:\` must be a map of ${PROJECT}:<key>: <value>, not ${describe(config)}`);
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (!key.startsWith(`${PROJECT}:`)) continue;
    const name = key.slice(PROJECT.length + 1);
    const encrypted = isMap(value) && "secure" in value;
    const secretKey = (SECRET_KEYS as readonly string[]).includes(name);
    if (encrypted && !secretKey) {
      throw new StackFileError(`${key} in ${file} is encrypted, but only ${SECRET_KEYS.join(", ")} are read as secrets`);
    }
    if (secretKey && !encrypted) {
      warn(
        `${key} in ${file} is in plain text: anyone who can read the file (or the repository) has it. ` +
          `Encrypt it with \`pulumi config set --secret ${key} <value> --stack ${stack}\``,
      );
    }
    raw[name] = value;
  }
  return raw;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "empty";
  return `a ${typeof value} (${JSON.stringify(value).slice(0, 40)})`;
}
