// Replication lag and RPO of two regions (docs/regions.md) over a link that is held back: loopback alone says
// little, since the RPO is the mirror's lag at the moment of the loss and the lag is a property of the link. For
// each link rate, a fresh pair (local/regionPair.ts, 3 + 3 servers) with the standby's leafnode dialling the
// primary through a throttled proxy (bench/throttledLink.ts); a writer publishes events of `--size` bytes at
// `--rate` per second in the primary for `--seconds`; every primary server is then SIGKILLed, and what the
// primary acknowledged is compared with what the mirror holds once it settled.
//
//   npm run bench:regions [-- --rates 0,4000000,1000000,250000] [--rate 500] [--size 512] [--seconds 10]
//
// Rates are bytes per second in each direction (0 = unlimited). Prints one row per rate (a Markdown table).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "nats";
import { readStackFileValues } from "../infra/stackFile";
import { userSpecs, type UserName } from "../infra/users";
import { freeBasePort } from "../local/localCluster";
import { RegionPair } from "../local/regionPair";
import { ThrottledLink } from "./throttledLink";
import { parseCommandLine, positiveInteger, UsageError, type CommandSpec } from "../cli/args";
import { exitWhenFlushed, runCli } from "../cli/errors";
import { randomBytes } from "node:crypto";

interface Row {
  readonly linkBytesPerSecond: number;
  readonly offeredPerSecond: number;
  readonly acked: number;
  readonly mirrored: number;
  readonly lagAtKillMs: number;
}

export const BENCH_REGIONS: CommandSpec<"rates" | "rate" | "size" | "seconds"> = {
  command: "npm run bench:regions --",
  summary: "a failover's RPO over a held-back link: two local regions, a steady writer, every primary server SIGKILLed",
  options: {
    rates: { value: "<b/s,...>", help: "link rates to try, bytes per second each way, 0 = unlimited (default 0,4000000,1000000,250000)" },
    rate: { value: "<n>", help: "events per second offered in the primary (default 500)" },
    size: { value: "<bytes>", help: "payload of each event (default 512)" },
    seconds: { value: "<n>", help: "how long the writer runs before the loss (default 10)" },
  },
};

function linkRates(value: string | undefined): number[] {
  const rates = (value ?? "0,4000000,1000000,250000").split(",");
  for (const r of rates) if (!/^\d+$/.test(r) || !Number.isSafeInteger(Number(r))) throw new UsageError(`--rates "${value}": must be bytes per second, comma-separated (0 = unlimited)`);
  return rates.map(Number);
}

async function trial(linkRate: number, rate: number, size: number, seconds: number): Promise<Row> {
  const stateDir = mkdtempSync(join(tmpdir(), "fluo-bench-regions-"));
  const passwords = Object.fromEntries(userSpecs().map((s) => [s.name, randomBytes(12).toString("base64url")])) as Record<UserName, string>;
  let link: ThrottledLink | undefined;
  const pair = await RegionPair.start({
    stackValues: readStackFileValues("dev"),
    stateDir,
    basePort: await freeBasePort(3),
    passwords,
    linkVia: async (ports) => {
      const opened = await ThrottledLink.open(ports, { bytesPerSecond: linkRate });
      link = opened.link;
      return opened.ports;
    },
  });
  try {
    const nc = await connect({ servers: [...pair.servers("eu")], user: "fluo-backend", pass: passwords["fluo-backend"], inboxPrefix: userSpecs().find((s) => s.name === "fluo-backend")!.inboxPrefix });
    const js = nc.jetstream();
    const payload = randomBytes(size);
    let acked = 0;
    const pending = new Set<Promise<void>>();
    const started = performance.now();
    // Publishes at the offered rate (each waits for its ack, up to 256 in flight), for the run's length.
    for (let i = 0; performance.now() - started < seconds * 1000; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      while (pending.size >= 256) await Promise.race(pending);
      const p = js.publish("events.system.tick", payload).then(
        (ack) => void (acked = Math.max(acked, ack.seq)),
        () => undefined,
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    await Promise.all(pending);
    const offered = acked / ((performance.now() - started) / 1000);
    const beforeKill = (await pair.status()).find((r) => r.name === "us")!.streams.EVENTS.lastSeq;
    await nc.close();
    await pair.kill("eu");
    // The mirror keeps what reached it before the loss; poll until it stops growing (nothing more can come).
    let mirrored = beforeKill;
    for (let stable = 0; stable < 5; ) {
      await new Promise((r) => setTimeout(r, 200));
      const now = (await pair.status()).find((r) => r.name === "us")!.streams.EVENTS.lastSeq;
      stable = now === mirrored ? stable + 1 : 0;
      mirrored = now;
    }
    return { linkBytesPerSecond: linkRate, offeredPerSecond: offered, acked, mirrored, lagAtKillMs: ((acked - mirrored) / offered) * 1000 };
  } finally {
    await pair.stop();
    await link?.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandLine(BENCH_REGIONS, argv);
  const rates = linkRates(values.rates);
  const rate = positiveInteger("rate", values.rate, 500);
  const size = positiveInteger("size", values.size, 512);
  const seconds = positiveInteger("seconds", values.seconds, 10);
  console.log(`bench:regions: ${rate} events/s of ${size} B offered for ${seconds} s (${((rate * size * 8) / 1e6).toFixed(1)} Mbit/s of payload), then every primary server SIGKILLed`);
  console.log("| link (each way) | acked/s | acked in primary | in the mirror | RPO (messages) | RPO (time of writes) |");
  console.log("|---|---|---|---|---|---|");
  for (const linkRate of rates) {
    const r = await trial(linkRate, rate, size, seconds);
    const link = linkRate === 0 ? "unlimited" : `${((linkRate * 8) / 1e6).toFixed(1)} Mbit/s`;
    console.log(`| ${link} | ${r.offeredPerSecond.toFixed(0)} | ${r.acked} | ${r.mirrored} | ${r.acked - r.mirrored} | ${r.lagAtKillMs.toFixed(0)} ms |`);
  }
  return 0;
}

if (require.main === module) void runCli("bench:regions", () => main(process.argv.slice(2))).then(exitWhenFlushed);
