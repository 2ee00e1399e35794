// Replication lag and RPO of two regions (docs/regions.md) over a link that is held back: loopback alone says
// little, since the RPO is the mirror's lag at the moment of the loss and the lag is a property of the link. For
// each link rate, a fresh pair (local/regionPair.ts, 3 + 3 servers) with the standby's leafnode dialling the
// primary through a throttled proxy (bench/throttledLink.ts); a writer publishes events of `--size` bytes at
// `--rate` per second in the primary for `--seconds`; every primary server is then SIGKILLed, and what the
// primary acknowledged is compared with what the mirror holds once it settled.
//
//   npm run bench:regions [-- --rates 0,4000000,1000000,250000] [--rate 500] [--size 512] [--seconds 10]
//
// Rates are bytes per second in each direction (0 = unlimited). Prints one row per rate.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "nats";
import { readStackFileValues } from "../infra/stackFile";
import { userSpecs, type UserName } from "../infra/users";
import { freeBasePort } from "../local/localCluster";
import { RegionPair } from "../local/regionPair";
import { ThrottledLink } from "./throttledLink";
import { randomBytes } from "node:crypto";

interface Row {
  readonly linkBytesPerSecond: number;
  readonly offeredPerSecond: number;
  readonly acked: number;
  readonly mirrored: number;
  readonly lagAtKillMs: number;
  readonly crossedBytes: number;
}

function flag(argv: readonly string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
}

function positive(name: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new Error(`--${name} "${value}": must be an integer ${allowZero ? ">= 0" : ">= 1"}`);
  return n;
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
    const killAt = performance.now();
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
    void killAt;
    return { linkBytesPerSecond: linkRate, offeredPerSecond: offered, acked, mirrored, lagAtKillMs: ((acked - mirrored) / offered) * 1000, crossedBytes: link ? link.bytes.down : 0 };
  } finally {
    await pair.stop();
    await link?.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const rates = flag(argv, "rates", "0,4000000,1000000,250000").split(",").map((r) => positive("rates", r, true));
  const rate = positive("rate", flag(argv, "rate", "500"));
  const size = positive("size", flag(argv, "size", "512"));
  const seconds = positive("seconds", flag(argv, "seconds", "10"));
  console.log(`bench:regions: ${rate} events/s of ${size} B offered for ${seconds} s (${((rate * size * 8) / 1e6).toFixed(1)} Mbit/s of payload), then every primary server SIGKILLed`);
  console.log("| link (each way) | acked/s | acked in primary | in the mirror | RPO (messages) | RPO (time of writes) |");
  console.log("|---|---|---|---|---|---|");
  for (const linkRate of rates) {
    const r = await trial(linkRate, rate, size, seconds);
    const link = linkRate === 0 ? "unlimited" : `${((linkRate * 8) / 1e6).toFixed(1)} Mbit/s`;
    console.log(`| ${link} | ${r.offeredPerSecond.toFixed(0)} | ${r.acked} | ${r.mirrored} | ${r.acked - r.mirrored} | ${r.lagAtKillMs.toFixed(0)} ms |`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: Error) => {
      console.error(`bench:regions: ${err.message}`);
      process.exit(1);
    },
  );
}
