// Command-line flags of the CLIs (node:util parseArgs), their usage text, and the errors they exit with:
// `--help` prints the usage and exits 0; a flag the user got wrong is one line naming it and exits 1.
// Reading stack files lives in infra/stackFile.ts, so the core and its tests do not depend on cli/.

import { parseArgs } from "node:util";

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Thrown by parseCommandLine for --help/-h; the CLI runner prints `usage` to stdout and exits 0. */
export class HelpRequested extends Error {
  constructor(readonly usage: string) {
    super("help requested");
    this.name = "HelpRequested";
  }
}

export interface OptionSpec {
  /** Placeholder of the flag's value ("<dir>"); a flag without one is a switch. */
  readonly value?: string;
  readonly help: string;
  /** Shown without brackets in the usage line (the command checks presence itself). */
  readonly required?: boolean;
}

export interface CommandSpec<K extends string = string> {
  /** How the user runs it, e.g. "npm run render --". */
  readonly command: string;
  readonly summary: string;
  readonly options: Readonly<Record<K, OptionSpec>>;
  /** Lines after the flags: where passwords come from, exit codes, ... */
  readonly notes?: readonly string[];
}

export interface CommandLine<K extends string> {
  readonly values: Partial<Record<K, string>>;
  readonly switches: ReadonlySet<K>;
}

const flag = (name: string, spec: OptionSpec): string => `--${name}${spec.value ? ` ${spec.value}` : ""}`;

/** The full usage text, one line per flag. */
export function usage(spec: CommandSpec): string {
  const entries = Object.entries<OptionSpec>(spec.options);
  const width = Math.max(...entries.map(([n, s]) => flag(n, s).length), "--help".length);
  return [
    `usage: ${spec.command} ${entries.map(([n, s]) => (s.required ? flag(n, s) : `[${flag(n, s)}]`)).join(" ")}`,
    `  ${spec.summary}`,
    ...entries.map(([n, s]) => `  ${flag(n, s).padEnd(width)}  ${s.help}`),
    `  ${"--help".padEnd(width)}  print this text and exit`,
    ...(spec.notes ?? []).map((n) => `  ${n}`),
  ].join("\n");
}

/** The flags in one line, for error messages. */
export function allowedFlags(spec: CommandSpec): string {
  return Object.entries<OptionSpec>(spec.options).map(([n, s]) => flag(n, s)).join(", ");
}

/**
 * Parses argv against the spec. Unknown flags, missing values and stray words are UsageErrors naming the flag
 * and the allowed ones; --help anywhere wins over everything else.
 */
export function parseCommandLine<K extends string>(spec: CommandSpec<K>, argv: readonly string[]): CommandLine<K> {
  if (argv.includes("--help") || argv.includes("-h")) throw new HelpRequested(usage(spec));
  const options = Object.fromEntries(
    Object.entries<OptionSpec>(spec.options).map(([name, s]) => [name, { type: s.value ? ("string" as const) : ("boolean" as const) }]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError(describeParseError(err, spec));
  }
  const values: Partial<Record<K, string>> = {};
  const switches = new Set<K>();
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === "string") values[name as K] = value;
    else if (value === true) switches.add(name as K);
  }
  return { values, switches };
}

// parseArgs throws TypeErrors with a code and a multi-line message; users get one line in our wording.
function describeParseError(err: unknown, spec: CommandSpec): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const named = /'([^']+)'/.exec(message)?.[1] ?? "";
  const name = named.split(" ")[0];
  const allowed = `allowed: ${allowedFlags(spec)}, --help`;
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown argument "${name}"; ${allowed}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument "${name}" (flags take the form --name value); ${allowed}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const option = spec.options[name.replace(/^--/, "")];
      if (option && !option.value) return `${name} is a switch and takes no value`;
      return `${name} needs a value (${option?.value ?? "<value>"}); a value starting with "-" is written ${name}=<value>`;
    }
    default:
      throw err;
  }
}

/** A value that must be a positive integer, or the default when the flag is absent. */
export function positiveInteger(flagName: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${flagName} "${value}": must be a positive integer`);
  return n;
}
