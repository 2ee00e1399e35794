// Kubernetes quantities (apimachinery resource.Quantity), read with one parser of Kubernetes' own grammar, and
// the two uses the stack config has for them: byte amounts (PVC size, container memory) and CPU amounts (cores).
// A value that a loose parser takes but Kubernetes does not ("3GiB", "100 m") renders, previews, and then has
// the StatefulSet rejected by the API server; a value Kubernetes takes that no node can offer ("500Mi" CPU) is
// accepted and leaves the pods Pending. Both are refused here, with the spelling that was meant.

// pkg/api/resource/quantity.go of k8s.io/apimachinery:
//   <quantity> ::= <signedNumber><suffix>      <number> ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
//   <suffix>   ::= <binarySI> | <decimalExponent> | <decimalSI>
//   <binarySI> ::= Ki | Mi | Gi | Ti | Pi | Ei   <decimalSI> ::= n | u | m | "" | k | M | G | T | P | E
//   <decimalExponent> ::= e<signed integer> | E<signed integer>
// "1E" is exa, "1E3" an exponent; "1e" nothing. (Its parser also takes a lone "."; the grammar does not.)
const QUANTITY = /^([+-]?)(\d+\.\d*|\.\d+|\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|[eE]([+-]?\d+)|(n|u|m|k|M|G|T|P|E))?$/;

const BINARY_POWER: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_POWER: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

export interface KubernetesQuantity {
  readonly sign: "" | "+" | "-";
  /** The number as written, without its sign ("12.5", ".5", "5."). */
  readonly number: string;
  /** "Mi", "m", "" or, for an exponent, "e-3" as written. */
  readonly suffix: string;
  readonly kind: "binary" | "decimal" | "exponent";
  /** The amount in base units (bytes, cores): digits x 2^binary or 10^decimal power. */
  readonly amount: { readonly digits: bigint; readonly power2: number; readonly power10: number };
}

/** `text` read as Kubernetes reads a quantity, or undefined when Kubernetes refuses it. */
export function parseKubernetesQuantity(text: string): KubernetesQuantity | undefined {
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  const [, sign, number, binary, exponent, decimal] = m;
  const [whole, fraction = ""] = number.split(".");
  const digits = BigInt(`${whole}${fraction}` || "0") * (sign === "-" ? -1n : 1n);
  const scale = -fraction.length;
  const common = { sign: sign as KubernetesQuantity["sign"], number };
  if (binary) return { ...common, suffix: binary, kind: "binary", amount: { digits, power2: BINARY_POWER[binary], power10: scale } };
  if (exponent !== undefined) {
    return { ...common, suffix: text.slice(sign.length + number.length), kind: "exponent", amount: { digits, power2: 0, power10: scale + Number(exponent) } };
  }
  const suffix = decimal ?? "";
  return { ...common, suffix, kind: "decimal", amount: { digits, power2: 0, power10: scale + DECIMAL_POWER[suffix] } };
}

/** The amount as a JavaScript number (exact for the sizes and core counts that occur). */
export function quantityValue(q: KubernetesQuantity): number {
  return Number(q.amount.digits) * 2 ** q.amount.power2 * 10 ** q.amount.power10;
}

/** Exact comparison of two quantities: negative, 0 or positive as a < b, a = b, a > b. */
export function compareQuantities(a: KubernetesQuantity, b: KubernetesQuantity): number {
  // Scale both to integers: multiply by 2^-minPower2 and 10^-minPower10.
  const p2 = Math.min(a.amount.power2, b.amount.power2);
  const p10 = Math.min(a.amount.power10, b.amount.power10);
  const scaled = (q: KubernetesQuantity): bigint => q.amount.digits * 2n ** BigInt(q.amount.power2 - p2) * 10n ** BigInt(q.amount.power10 - p10);
  const d = scaled(a) - scaled(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

// Byte amounts: a plain number with an optional binary (Ki, Mi, Gi, Ti, Pi) or decimal (k, M, G, T, P) suffix, no
// sign, no space, no "B". Sub-unit suffixes (m, u, n), exponents, a trailing "." and exa (beyond 2^53 bytes) are
// valid Kubernetes but meaningless for bytes or unreadable by parseSize, so refused.
const BYTE_SUFFIXES: ReadonlySet<string> = new Set(["", "Ki", "Mi", "Gi", "Ti", "Pi", "k", "M", "G", "T", "P"]);

export const QUANTITY_HELP =
  'a Kubernetes quantity such as "512Mi", "3Gi" or "1G" (binary Ki/Mi/Gi/Ti, decimal k/M/G/T; no "B", no space)';

// What people write for a byte unit, and the Kubernetes suffix it means.
const QUANTITY_SPELLINGS: Readonly<Record<string, string>> = {
  b: "", kib: "Ki", mib: "Mi", gib: "Gi", tib: "Ti", pib: "Pi",
  ki: "Ki", mi: "Mi", gi: "Gi", ti: "Ti", pi: "Pi",
  k: "k", kb: "k", m: "M", mb: "M", g: "G", gb: "G", t: "T", tb: "T", p: "P", pb: "P",
};

export function isKubernetesByteQuantity(text: string): boolean {
  const q = parseKubernetesQuantity(text);
  return q !== undefined && q.sign === "" && q.kind !== "exponent" && !q.number.endsWith(".") && BYTE_SUFFIXES.has(q.suffix);
}

/** The Kubernetes spelling of a size written another way ("3GiB" -> "3Gi", "1100MB" -> "1100M"), if there is one. */
export function kubernetesQuantitySpelling(text: string): string | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const suffix = QUANTITY_SPELLINGS[match[2].toLowerCase()];
  if (suffix === undefined) return undefined;
  const spelled = `${match[1]}${suffix}`;
  return isKubernetesByteQuantity(spelled) ? spelled : undefined;
}

// CPU amounts, in cores: any non-negative quantity with a decimal suffix (n, u, m, "", k) or an exponent, as
// Kubernetes takes them. Refused although Kubernetes takes them: a binary suffix (a memory value pasted into a CPU
// key: "500Mi" is 524288000 cores) and mega or more ("500M", the shifted "500m"): no node offers that many
// cores, so the pods would stay Pending forever.
export const CPU_QUANTITY_HELP =
  'a CPU quantity in cores such as "100m", "0.5" or "2" (decimal suffixes n/u/m/k or an exponent such as 250e-3; ' +
  "no binary Ki/Mi, no M/G, no space, no unit word)";

const HUGE_SUFFIX_NAMES: Readonly<Record<string, string>> = { M: "mega", G: "giga", T: "tera", P: "peta", E: "exa" };

export interface CpuQuantityProblem {
  /** Why Kubernetes, or the scheduler, would not take it. */
  readonly reason: string;
  /** What was meant, when it is clear. */
  readonly spelling?: string;
}

const cores = (q: KubernetesQuantity): string => String(quantityValue(q));

/** Why `text` cannot be a container's CPU amount (and what was meant), or undefined when it can. */
export function cpuQuantityProblem(text: string): CpuQuantityProblem | undefined {
  const q = parseKubernetesQuantity(text);
  if (!q) return { reason: "not a Kubernetes quantity (the API server would reject the StatefulSet)", ...meant(cpuSpelling(text)) };
  if (q.amount.digits < 0n) return { reason: "must not be negative (the API server rejects a negative CPU amount)" };
  if (q.kind === "binary") {
    return {
      reason: `"${q.suffix}" is a binary suffix for bytes: ${text} CPU is ${cores(q)} cores, which no node has (the pods would stay Pending)`,
      ...meant(q.suffix === "Mi" ? `${q.sign}${q.number}m` : undefined),
    };
  }
  const huge = HUGE_SUFFIX_NAMES[q.suffix];
  if (q.kind === "decimal" && huge) {
    return {
      reason: `"${q.suffix}" is ${huge}: ${text} CPU is ${cores(q)} cores, which no node has (the pods would stay Pending)`,
      ...meant(q.suffix === "M" ? `${q.sign}${q.number}m` : undefined),
    };
  }
  return undefined;
}

/** A suggestion only if it is itself a valid CPU amount. */
function meant(spelling: string | undefined): { spelling?: string } {
  return spelling !== undefined && parseKubernetesQuantity(spelling) && !cpuQuantityProblem(spelling) ? { spelling } : {};
}

// How people write CPU amounts that Kubernetes does not read: spaces, a decimal comma, unit words.
const MILLI_WORDS = /^(millicores?|millicpus?|millis?|mcpus?|mcores?|mc)$/i;
const CORE_WORDS = /^(cores?|cpus?|vcpus?|vcores?)$/i;

function cpuSpelling(text: string): string | undefined {
  const compact = text.replace(/\s+/g, "").replace(/^(\d+),(\d+)/, "$1.$2");
  const m = /^(\d+(?:\.\d+)?|\.\d+)([A-Za-z]*)$/.exec(compact);
  if (!m) return undefined;
  const [, number, unit] = m;
  if (MILLI_WORDS.test(unit)) return `${number}m`;
  if (CORE_WORDS.test(unit)) return number;
  return compact !== text ? compact : undefined;
}

/** A valid CPU amount read for comparisons (request against limit). */
export function cpuQuantity(text: string): KubernetesQuantity | undefined {
  return cpuQuantityProblem(text) ? undefined : parseKubernetesQuantity(text);
}
