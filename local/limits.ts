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
