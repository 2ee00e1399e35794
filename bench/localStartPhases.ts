// What bench:local reads out of one `npm run local`: its progress lines (with when each arrived) cut into phases,
// and the servers' own logs for when the Raft elections happened. Plain text in, numbers out.

export interface TimedLine {
  /** Milliseconds after the CLI was spawned. */
  readonly ms: number;
  readonly text: string;
}

export interface PhaseSplit {
  readonly phases: ReadonlyArray<{ readonly phase: string; readonly seconds: number }>;
  /** Spawn to the Ready line. */
  readonly readySeconds: number;
}

// Each phase ends at the first line matching its marker (the last one for "started": three servers start).
// The wording is cli/local.ts's and local/localCluster.ts's progress output.
const PHASES: ReadonlyArray<{ readonly phase: string; readonly marker: RegExp; readonly last?: true }> = [
  // With authentication nkey nothing is hashed: the NKEY line stands at the same point.
  { phase: "node, tsx, stack config, model", marker: /hashing passwords|NKEY logins:/ },
  { phase: "bcrypt hashes, servers spawned", marker: /\bstarted nats-\d+ \(pid/, last: true },
  { phase: "meta leader, every peer current", marker: /JetStream meta leader:/ },
  { phase: "stream/consumer leaders (/healthz)", marker: /streams and consumers current/ },
  { phase: "catalog apply", marker: /catalog applied:/ },
  { phase: "report (servers, credentials, catalog)", marker: /^Ready:/ },
];

/** Seconds per phase; a phase whose line never came is NaN, and the next one starts where the last known ended. */
export function phaseSplit(lines: readonly TimedLine[]): PhaseSplit {
  let previous = 0;
  const phases = PHASES.map(({ phase, marker, last }) => {
    const matching = lines.filter((l) => marker.test(l.text));
    const end = last ? matching.at(-1) : matching[0];
    if (!end) return { phase, seconds: Number.NaN };
    const seconds = (end.ms - previous) / 1000;
    previous = end.ms;
    return { phase, seconds };
  });
  const ready = lines.find((l) => l.text.startsWith("Ready:"));
  return { phases, readySeconds: ready ? ready.ms / 1000 : Number.NaN };
}

export interface ServerElections {
  /** Epoch milliseconds of the first "Starting nats-server" (the servers log local time). */
  readonly firstStartMs: number;
  /** Seconds from the first server's start to the first metadata leader any server logged; NaN if none. */
  readonly metaLeaderSeconds: number;
  /** Seconds from the first server's start to the last stream or consumer leader logged; NaN if none. */
  readonly lastGroupLeaderSeconds: number;
}

// nats-server's log line: "[pid] 2026/12/01 11:23:45.348658 [INF] message".
const LOG_LINE = /^\[\d+\] (\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6}) \[\w+\] (.*)$/;

function logTimes(log: string, message: RegExp): number[] {
  const times: number[] = [];
  for (const line of log.split("\n")) {
    const m = LOG_LINE.exec(line);
    if (!m || !message.test(m[8])) continue;
    const [year, month, day, hour, minute, second, micros] = m.slice(1, 8).map(Number);
    // The servers log local time, as this process's Date reads it.
    times.push(new Date(year, month - 1, day, hour, minute, second).getTime() + micros / 1000);
  }
  return times;
}

/** Election times from the part of each server's log that one start wrote (jetstream_cluster.go's notices). */
export function serverElections(logs: readonly string[]): ServerElections {
  const all = (message: RegExp): number[] => logs.flatMap((log) => logTimes(log, message));
  const starts = all(/^Starting nats-server$/);
  if (starts.length === 0) return { firstStartMs: Number.NaN, metaLeaderSeconds: Number.NaN, lastGroupLeaderSeconds: Number.NaN };
  const t0 = Math.min(...starts);
  // "JetStream cluster no metadata leader" (a shutdown) is not an election.
  const meta = all(/^(Self is new JetStream cluster metadata leader|JetStream cluster new (remote )?metadata leader)/);
  const groups = all(/^JetStream cluster new (stream|consumer) leader for /);
  return {
    firstStartMs: t0,
    metaLeaderSeconds: meta.length > 0 ? (Math.min(...meta) - t0) / 1000 : Number.NaN,
    lastGroupLeaderSeconds: groups.length > 0 ? (Math.max(...groups) - t0) / 1000 : Number.NaN,
  };
}
