// Human-readable sizes and durations, parsed once into exact integers.
// Sizes: "512MiB" / "10GiB" are binary, "1GB" / "500MB" are decimal (SI), a bare number is bytes.
// nats.conf reads "10GB" as 10 GiB, so the renderers always write plain byte counts and leave no room
// for that ambiguity. Durations: Go-style "90s", "24h", "7d", "1h30m", "500ms".

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  // Kubernetes quantity suffixes, so PVC sizes and memory limits read the same way.
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  K: 1e3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
};

export const SIZE_HELP = 'a size such as "512MiB", "10GiB", "1GB" or "12Gi" (binary: KiB/MiB/GiB or Ki/Mi/Gi; decimal: KB/MB/GB)';

/** Bytes for a size string, or undefined when it is not one or is too large to hold exactly (above 2^53). */
export function parseSize(text: string): number | undefined {
  const problem = sizeProblem(text);
  return problem === undefined ? sizeBytes(text) : undefined;
}

function sizeBytes(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text)!;
  return Math.round(Number(match[1]) * SIZE_UNITS[match[2]]);
}

/**
 * Why `text` is not a size: "syntax" (not a number with a known unit), "too large" (above 2^53 bytes, 8 PiB, where
 * a JavaScript number stops holding byte counts exactly; nats-server refuses integers past 2^63-1 anyway).
 */
export function sizeProblem(text: string): "syntax" | "too large" | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!match || SIZE_UNITS[match[2]] === undefined) return "syntax";
  return Number.isSafeInteger(sizeBytes(text)) ? undefined : "too large";
}

/** The shortest exact binary spelling of a byte count ("10GiB", "1536MiB", "100B"). */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [["TiB", 2 ** 40], ["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)}MiB`;
  return `${bytes}B`;
}

const NS_PER: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
};

export const DURATION_HELP = 'a duration such as "500ms", "30s", "5m", "24h", "7d" or "1h30m"';

/** Nanoseconds for a duration string, or undefined when it is not one. */
export function parseDuration(text: string): bigint | undefined {
  const trimmed = text.trim();
  if (trimmed === "" ) return undefined;
  if (trimmed === "0") return 0n;
  let rest = trimmed;
  let total = 0n;
  while (rest.length > 0) {
    const match = /^(\d+)(ns|us|µs|ms|s|m|h|d)/.exec(rest);
    if (!match) return undefined;
    total += BigInt(match[1]) * NS_PER[match[2]];
    rest = rest.slice(match[0].length);
  }
  return total;
}

/** Nanoseconds as a number, for APIs that take JSON numbers (exact below 2^53 ns, about 104 days). */
export function durationNanos(text: string): number | undefined {
  const ns = parseDuration(text);
  if (ns === undefined) return undefined;
  return Number(ns);
}

/** The shortest readable spelling of a nanosecond count ("24h", "7d", "1h30m", "250ms"). */
export function formatDuration(nanos: number | bigint): string {
  let rest = BigInt(nanos);
  if (rest === 0n) return "0s";
  let out = "";
  for (const unit of ["d", "h", "m", "s", "ms", "us", "ns"] as const) {
    const size = NS_PER[unit];
    if (rest >= size) {
      out += `${rest / size}${unit}`;
      rest %= size;
    }
  }
  return out;
}
