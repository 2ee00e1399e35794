// JetStream limits for local mode: the stack's per-server limits, lowered to what this machine can give three
// servers at once. A limit above the free disk would let streams accept data the disk cannot hold and fail late
// with "insufficient storage resources" (NOTES.md); a memory store above free RAM would swap or OOM the laptop.

export interface MachineResources {
  /** Free bytes on the filesystem of the state directory. */
  readonly freeDiskBytes: number;
  /** Free (available) memory in bytes. */
  readonly freeMemoryBytes: number;
}

export interface LocalLimits {
  readonly maxMemoryStore: number;
  readonly maxFileStore: number;
  /** One line per limit: the value and why (the stack's value, or the share of the machine). */
  readonly explanation: readonly string[];
}

// Shares of the machine that local mode is willing to take, split evenly between the servers.
export const DISK_SHARE = 0.5;
export const MEMORY_SHARE = 0.25;

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)}MiB`;

function scaled(what: string, stack: number, free: number, share: number, servers: number): { value: number; line: string } {
  const machine = Math.floor((free * share) / servers);
  if (stack <= machine) return { value: stack, line: `${what}: ${mib(stack)} per server (the stack's value)` };
  return {
    value: machine,
    line:
      `${what}: ${mib(machine)} per server (stack asks ${mib(stack)}; capped at ${share * 100}% of ` +
      `${mib(free)} free / ${servers} servers)`,
  };
}

/** The per-server limits: min(stack value, share of the free resource / servers). */
export function localLimits(
  stack: { readonly maxMemoryStore: number; readonly maxFileStore: number },
  machine: MachineResources,
  servers: number,
): LocalLimits {
  const memory = scaled("max_memory_store", stack.maxMemoryStore, machine.freeMemoryBytes, MEMORY_SHARE, servers);
  const file = scaled("max_file_store", stack.maxFileStore, machine.freeDiskBytes, DISK_SHARE, servers);
  return { maxMemoryStore: memory.value, maxFileStore: file.value, explanation: [memory.line, file.line] };
}

export interface StreamReservation {
  readonly name: string;
  readonly storage: "file" | "memory";
  readonly maxBytes: number;
}

/**
 * Problems when the streams' max_bytes cannot fit the per-server limits. JetStream reserves each stream's
 * max_bytes on every server holding a replica, and with replicas = servers every server holds one of each, so
 * the sum must fit; otherwise stream creation fails with "insufficient resources".
 */
export function reservationProblems(
  streams: readonly StreamReservation[],
  limits: { readonly maxMemoryStore: number; readonly maxFileStore: number },
): string[] {
  const problems: string[] = [];
  for (const storage of ["file", "memory"] as const) {
    const of = streams.filter((s) => s.storage === storage);
    const needed = of.reduce((sum, s) => sum + s.maxBytes, 0);
    const limit = storage === "file" ? limits.maxFileStore : limits.maxMemoryStore;
    if (needed > limit) {
      problems.push(
        `the ${storage} streams reserve ${mib(needed)} per server (${of.map((s) => `${s.name} ${mib(s.maxBytes)}`).join(", ")}) ` +
          `but max_${storage}_store is ${mib(limit)}: lower maxBytes in fluo-queue:streamOverrides or free ${storage === "file" ? "disk" : "memory"}`,
      );
    }
  }
  return problems;
}
