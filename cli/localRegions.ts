// npm run local:regions [-- --stack dev] [--state-dir .local-regions] [--base-port 14222]
// Two regions on 127.0.0.1 to practise a failover (docs/regions.md "Practise on a laptop"): a primary (eu) and a
// standby (us) of `replicas` servers each, then a prompt that takes the operator's steps:
//   status | publish <region> <n> | kill <region> | promote <region> | help | quit
// Every start is a fresh pair (the practice data of the last run is removed); the nats CLI contexts of each
// region are written to <state-dir>/<region>/credentials/.

import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseCommandLine, UsageError, type CommandSpec } from "./args";
import { exitWhenFlushed, runCli } from "./errors";
import { processIo, type Io } from "./io";
import { readStackFileValues } from "../infra/stackFile";
import { loadOrCreatePasswords, writeContextFiles } from "../local/credentials";
import { prepareStateDir, stateLayout } from "../local/stateDir";
import { RegionPair, type RegionState } from "../local/regionPair";

export const LOCAL_REGIONS: CommandSpec<"stack" | "state-dir" | "base-port"> = {
  command: "npm run local:regions --",
  summary: "starts two regions (primary eu, standby us) on 127.0.0.1 and a prompt to practise failover",
  options: {
    stack: { value: "<name>", help: "the stack file both regions are rendered from (default dev)" },
    "state-dir": { value: "<dir>", help: "where the servers keep their data and the contexts (default .local-regions; emptied at every start)" },
    "base-port": { value: "<port>", help: "primary client ports base+i, standby base+100+i; routes, monitor, leaf +2000/+4000/+6000 (default 14222)" },
  },
  notes: ["commands at the prompt: status, publish <region> <n>, kill <region>, promote <region>, help, quit"],
};

const HELP = [
  "status                  each region's role, leafnode connections and stream counts (mirrors with their lag)",
  "publish <region> <n>    n events on events.system.tick in that region, as the backend (each acknowledged)",
  "kill <region>           SIGKILL every server of the region: the region is lost",
  "promote <region>        what `pulumi up` with regionRole primary does: the mirrors become streams, the remote goes",
  "quit                    stop both regions",
];

function formatStatus(states: readonly RegionState[]): string[] {
  return states.map((r) => {
    if (!r.alive) return `${r.name} (${r.role}): down`;
    const streams = Object.entries(r.streams).map(([name, s]) => `${name} ${s.messages}${s.mirrorLag !== undefined ? ` (mirror, lag ${s.mirrorLag})` : ""}`);
    return `${r.name} (${r.role}): ${r.leafnodes} leafnode connection(s); ${streams.join(", ")}`;
  });
}

/** One prompt line: the result lines, or throws a one-line error the prompt prints. */
async function runCommand(pair: RegionPair, line: string): Promise<string[] | "quit"> {
  const [command, ...args] = line.trim().split(/\s+/);
  switch (command) {
    case "":
      return [];
    case "status":
      return formatStatus(await pair.status());
    case "publish": {
      const [region, n] = args;
      if (!region || !/^[1-9]\d{0,5}$/.test(n ?? "")) throw new UsageError(`publish ${args.join(" ")}: give a region (${pair.regionNames.join(", ")}) and a count from 1 to 999999`);
      const { lastSeq } = await pair.publish(region, Number(n));
      return [`published ${n} events in ${region}: EVENTS last seq ${lastSeq}`];
    }
    case "kill": {
      if (!args[0]) throw new UsageError(`kill: give a region (${pair.regionNames.join(", ")})`);
      await pair.kill(args[0]);
      return [`killed every server of ${args[0]}`];
    }
    case "promote": {
      if (!args[0]) throw new UsageError(`promote: give a region (${pair.regionNames.join(", ")})`);
      const changed = await pair.promote(args[0]);
      return [`promoted ${args[0]}: ${changed.map((a) => `${a.id} ${a.action}${a.fields.length > 0 ? ` (${a.fields.join(", ")})` : ""}`).join("; ")}`];
    }
    case "help":
      return HELP;
    case "quit":
    case "exit":
      return "quit";
    default:
      throw new UsageError(`unknown command "${command}": one of status, publish, kill, promote, help, quit`);
  }
}

export async function main(argv: readonly string[], io: Io = processIo, input: NodeJS.ReadableStream = process.stdin): Promise<number> {
  const { values } = parseCommandLine(LOCAL_REGIONS, argv);
  const stack = values.stack ?? "dev";
  const basePort = Number(values["base-port"] ?? "14222");
  if (!/^\d+$/.test(values["base-port"] ?? "14222") || basePort < 1024 || basePort + 100 + 3 * 2000 + 10 > 65535) {
    throw new UsageError(`--base-port "${values["base-port"]}": must be a port number from 1024 to ${65535 - 6110}`);
  }
  const stackValues = readStackFileValues(stack, undefined, (line) => io.err(`warning: ${line}`));
  const root = stateLayout(values["state-dir"] ?? ".local-regions");
  prepareStateDir(root);
  const passwords = loadOrCreatePasswords(root);
  const regionLayouts = ["eu", "us"].map((region) => {
    if (existsSync(join(root.root, region))) rmSync(join(root.root, region), { recursive: true, force: true });
    const layout = stateLayout(join(root.root, region));
    prepareStateDir(layout);
    return layout;
  });

  io.out(`local:regions: starting primary eu and standby us from Pulumi.${stack}.yaml in ${root.root} ...`);
  const pair = await RegionPair.start({ stackValues, stateDir: root.root, basePort, passwords });
  const stop = async (): Promise<void> => {
    await pair.stop();
    io.out("local:regions: stopped both regions");
  };
  process.once("SIGINT", () => void stop().then(() => exitWhenFlushed(130)));
  try {
    for (const [i, region] of pair.regionNames.entries()) {
      const layout = regionLayouts[i];
      const { contexts } = writeContextFiles(layout, pair.servers(region), { authentication: "password", passwords });
      io.out(`  ${region}: ${pair.servers(region).join(",")}   nats --context ${contexts["fluo-provisioner"]} stream ls`);
    }
    io.out("Ready: two regions running; type help for the commands");
    const lines = createInterface({ input, terminal: false });
    for await (const line of lines) {
      try {
        const result = await runCommand(pair, line);
        if (result === "quit") break;
        for (const l of result) io.out(`> ${l}`);
      } catch (err) {
        if (!(err instanceof Error) || !["UsageError", "RegionPairError", "NatsError", "NatsConnectError", "JetStreamApiError", "LocalClusterError"].includes(err.name)) throw err;
        io.err(`> ${err.message}`);
      }
    }
  } finally {
    await stop();
  }
  return 0;
}

if (require.main === module) void runCli("local:regions", () => main(process.argv.slice(2))).then(exitWhenFlushed);
