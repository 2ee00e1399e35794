// Peak resident memory of a command's whole process tree: `npm run deploy` is npm -> tsx -> the pulumi CLI ->
// the Node.js language host and the dynamic provider host, and no single one of them is the deploy's footprint
// (getrusage's maxrss of the children reports the largest one, not their sum). Linux: read from /proc.

import { readdirSync, readFileSync } from "node:fs";

export interface ProcessRow {
  readonly pid: number;
  readonly ppid: number;
  readonly rssBytes: number;
}

/** The summed RSS of `root`'s descendants (not root itself), leaving out the subtrees of `exclude`. */
export function treeRssBytes(rows: readonly ProcessRow[], root: number, exclude: ReadonlySet<number> = new Set()): number {
  const children = new Map<number, ProcessRow[]>();
  for (const r of rows) children.set(r.ppid, [...(children.get(r.ppid) ?? []), r]);
  let total = 0;
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const r = stack.pop()!;
    if (exclude.has(r.pid)) continue;
    total += r.rssBytes;
    stack.push(...(children.get(r.pid) ?? []));
  }
  return total;
}

/** PPid and VmRSS of one /proc/<pid>/status text; undefined for a kernel thread or a process gone meanwhile. */
export function parseStatus(pid: number, status: string): ProcessRow | undefined {
  const ppid = /^PPid:\s+(\d+)/m.exec(status)?.[1];
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return ppid === undefined || rss === undefined ? undefined : { pid, ppid: Number(ppid), rssBytes: Number(rss) * 1024 };
}

function processRows(): ProcessRow[] {
  const rows: ProcessRow[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const row = parseStatus(Number(entry), readFileSync(`/proc/${entry}/status`, "utf8"));
      if (row) rows.push(row);
    } catch {
      // Exited between the listing and the read.
    }
  }
  return rows;
}

/**
 * Runs `run` while sampling the RSS of this process's descendants every `intervalMs`, and returns its result with
 * the highest sum seen. `exclude`: children that are not the command (the benchmark's own nats-servers).
 */
export async function withPeakRss<T>(run: () => Promise<T>, exclude: ReadonlySet<number>, intervalMs = 250): Promise<{ result: T; peakRssBytes: number }> {
  let peak = 0;
  const sample = (): void => {
    peak = Math.max(peak, treeRssBytes(processRows(), process.pid, exclude));
  };
  const timer = setInterval(sample, intervalMs);
  try {
    const result = await run();
    return { result, peakRssBytes: peak };
  } finally {
    clearInterval(timer);
  }
}
