// Command-line flags of the CLIs, and the error they exit 1 with. Reading stack files lives in
// infra/stackFile.ts, so the core and its tests do not depend on cli/.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
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
