// Errors that are the user's to fix (bad flags, stack config, catalog or policy): the CLIs print their message
// and exit 1. Anything else is a bug and keeps its stack trace.

import { ConfigError } from "../infra/stackConfig";
import { StackFileError } from "../infra/stackFile";
import { StreamOverrideError } from "../streams/catalog";
import { PolicyError } from "../streams/policy";
import { CatalogError } from "../streams/spec";
import { UsageError } from "./stackFile";

export function isUserError(err: unknown): err is Error {
  return (
    err instanceof UsageError ||
    err instanceof StackFileError ||
    err instanceof ConfigError ||
    err instanceof StreamOverrideError ||
    err instanceof CatalogError ||
    err instanceof PolicyError
  );
}
