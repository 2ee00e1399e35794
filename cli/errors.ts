// How every CLI ends: --help prints the usage and exits 0; errors that are the user's to fix (bad flags, files,
// stack config, catalog or policy) and errors of the server or network they pointed us at are one line naming
// the flag, file, key or URL, exit 1. Anything else is a bug in fluo-queue and keeps its stack trace.

import { ConfigError } from "../infra/stackConfig";
import { StackFileError } from "../infra/stackFile";
import { StreamOverrideError } from "../streams/catalog";
import { PolicyError } from "../streams/policy";
import { CatalogError } from "../streams/spec";
import { StateDirError } from "../local/stateDir";
import { ContextFileError } from "../lib/natsContext";
import { HelpRequested, UsageError } from "./args";
import { processIo, type Io } from "./io";

export function isUserError(err: unknown): err is Error {
  return (
    err instanceof UsageError ||
    err instanceof StackFileError ||
    err instanceof ConfigError ||
    err instanceof StreamOverrideError ||
    err instanceof CatalogError ||
    err instanceof PolicyError ||
    err instanceof StateDirError ||
    err instanceof ContextFileError
  );
}

// By name, not class: nats.js's NatsError, the provider client's rephrased connection failures
// (NatsConnectError) and the backup client's JetStream API answers come from modules the provider serializes,
// where classes do not survive.
const OPERATIONAL_ERRORS: readonly string[] = ["NatsError", "NatsConnectError", "JetStreamApiError", "LocalClusterError"];

/** The server or network said no (unreachable, refused login, API error): not a bug, nothing to trace. */
export function isOperationalError(err: unknown): err is Error {
  return err instanceof Error && OPERATIONAL_ERRORS.includes(err.name);
}

/** Runs a CLI's body and turns how it ended into an exit code, printing what the user needs to see. */
export async function runCli(name: string, body: () => Promise<number> | number, io: Io = processIo): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.out(err.usage);
      return 0;
    }
    if (isUserError(err) || isOperationalError(err)) {
      io.err(`${name}: ${err.message}`);
      return 1;
    }
    io.err(`${name}: unexpected error, a bug in fluo-queue (please report it with this trace):`);
    io.err(err instanceof Error ? (err.stack ?? err.message) : String(err));
    return 1;
  }
}

/** Exits once stdout and stderr are flushed (a plain process.exit can cut off output piped to another tool). */
export function exitWhenFlushed(code: number): void {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}
