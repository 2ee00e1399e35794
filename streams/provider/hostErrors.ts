// How a refusal reaches the operator: the engine prints the provider's error message once ("error: refusing to
// ..."). The SDK's dynamic provider host (cmd/dynamic-provider, @pulumi/pulumi 3.248) also prints every error of
// `check` and `diff` to stderr as `${e}: ${e.stack}` before returning it, so a preview showed each refusal three
// times, one of them with a transpiled stack trace (issue 18). This skips that print for errors whose message is
// written for the operator; a bug (TypeError, RangeError, ...) keeps its trace.

const QUIET = new Set<string>();
const INSTALLED = Symbol.for("fluo-queue.hostErrors.installed");

/** Errors whose message says everything: ours (plain Error), and the server's or client's answers. */
export function isExplained(err: unknown): err is Error {
  return err instanceof Error && (err.constructor === Error || ["NatsError", "NatsConnectError", "JetStreamApiError"].includes(err.name));
}

function installFilter(): void {
  const target = console as Console & { [INSTALLED]?: true };
  if (target[INSTALLED]) return;
  target[INSTALLED] = true;
  const original = console.error.bind(console);
  console.error = (...args: unknown[]): void => {
    const first = args[0];
    if (typeof first === "string") {
      for (const text of QUIET) {
        if (first.startsWith(`${text}: `)) {
          QUIET.delete(text);
          return;
        }
      }
    }
    original(...args);
  };
}

/** Returns `err`; when it is explained, the host's one `${e}: ${e.stack}` print of it is skipped. */
export function withoutHostTrace<T>(err: T): T {
  if (isExplained(err)) {
    installFilter();
    QUIET.add(String(err));
  }
  return err;
}
