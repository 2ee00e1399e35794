// The one place that talks to a NATS server for stream management: connection settings, one reused connection
// per process (the provider host calls many operations in one process), JetStream error classification on
// codes, not message text, and bounded retries.
//
// Serialization rules (NOTES.md "Pulumi dynamic providers"): the provider captures these functions by value, so
// they load `nats` with require() at call time and keep no module-level state: the connection cache lives on
// globalThis, shared by the Stream and Consumer providers of one host process.

import type { JetStreamManager, NatsConnection } from "nats";

interface ConnectionTarget {
  /** Client URLs, e.g. ["nats://127.0.0.1:4222"]. */
  readonly servers: readonly string[];
  /** The identity; with a seed it names the user in messages only (the server knows it by its public key). */
  readonly user: string;
  /** The user's private reply prefix (infra/users.ts): its permissions deny replies anywhere else. */
  readonly inboxPrefix: string;
  /**
   * TLS trusting only this CA file (local mode's --tls, a CLI's --ca). Absent: nats.js still upgrades to TLS when
   * the server requires it, trusting Node's CAs plus NODE_EXTRA_CA_CERTS (how `pulumi up`'s provider host
   * trusts the cluster's CA: README "Reaching NATS from pulumi up").
   */
  readonly caFile?: string;
}

/** How to reach NATS and log in: a user name and password, or an NKEY seed ("SU...") that signs the server's nonce. */
export type ConnectionSettings = PasswordConnection | (ConnectionTarget & { readonly seed: string });
export type PasswordConnection = ConnectionTarget & { readonly password: string };

/** The nats.js connect options that log in with these settings. */
export function loginOptions(settings: ConnectionSettings): { user?: string; pass?: string; authenticator?: import("nats").Authenticator } {
  if ("seed" in settings) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nats = require("nats") as typeof import("nats");
    return { authenticator: nats.nkeyAuthenticator(new TextEncoder().encode(settings.seed)) };
  }
  return { user: settings.user, pass: settings.password };
}

/** Bounds of the retry loop around one JetStream API call. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  /** Total time for the operation, every attempt and wait included (`fluo-queue:natsTimeout`). */
  readonly totalMs: number;
}

// 20 s in total: long enough for a stream or meta leader election after a pod restart, short enough that a
// broken cluster fails `pulumi up` promptly. Attempts alone did not bound it: 8 attempts that each waited for
// the API timeout took 97.8 s against frozen servers.
export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, firstDelayMs: 250, maxDelayMs: 5_000, totalMs: 20_000 };

// The key is made inside each function: the closure serializer cannot carry a module-level Symbol.
/** The policy in force in this process: configure() sets the stack's natsTimeout, shared by both providers. */
export function retryPolicy(): RetryPolicy {
  return (globalThis as unknown as Record<symbol, RetryPolicy | undefined>)[Symbol.for("fluo-queue.retryPolicy")] ?? DEFAULT_RETRY;
}

export function setRetryTotal(totalMs: number): void {
  (globalThis as unknown as Record<symbol, RetryPolicy>)[Symbol.for("fluo-queue.retryPolicy")] = { ...DEFAULT_RETRY, totalMs };
}

/**
 * An operation that got no usable answer from NATS within its time budget; the provider adds the servers and
 * what to check (it knows the settings, this loop does not). A marked plain Error, not a subclass: classes do
 * not survive the closure serializer intact.
 */
export function natsUnavailable(message: string): Error {
  return Object.assign(new Error(message), { natsUnavailable: true });
}

export const isNatsUnavailable = (err: unknown): err is Error =>
  err instanceof Error && (err as { natsUnavailable?: boolean }).natsUnavailable === true;

// JetStream API error codes (nats-server errors.json).
export const STREAM_NOT_FOUND = 10059;
export const CONSUMER_NOT_FOUND = 10014;
// "JetStream system temporarily unavailable" / "cluster can not handle request": no (meta) leader yet.
const TRANSIENT_API_CODES: readonly number[] = [10008, 10009];
// nats.js error codes: "503" no responders (JetStream not up yet), request timeout.
const TRANSIENT_CLIENT_CODES: readonly string[] = ["503", "TIMEOUT", "408"];
// The connection is gone for good (every server died and reconnects ran out): retrying on it cannot help; the
// cache drops it, so the next operation reconnects.
const CLOSED_CLIENT_CODES: readonly string[] = ["CONNECTION_CLOSED", "DISCONNECT"];

const CONNECT_TIMEOUT_MS = 5_000;
const API_TIMEOUT_MS = 10_000;

interface CachedConnection {
  readonly connection: Promise<NatsConnection>;
  readonly jsm: Promise<JetStreamManager>;
}

function cache(): Map<string, CachedConnection> {
  const key = Symbol.for("fluo-queue.jetstreamConnections");
  const holder = globalThis as unknown as Record<symbol, Map<string, CachedConnection> | undefined>;
  let map = holder[key];
  if (!map) {
    map = new Map();
    holder[key] = map;
  }
  return map;
}

function cacheKey(settings: ConnectionSettings): string {
  return JSON.stringify([settings.servers, settings.user, "seed" in settings ? settings.seed : settings.password, settings.inboxPrefix, settings.caFile ?? ""]);
}

/** The JetStream API error code of an error from nats.js, if it is one. */
export function apiErrorCode(err: unknown): number | undefined {
  const apiError = (err as { api_error?: { err_code?: number } } | undefined)?.api_error;
  return typeof apiError?.err_code === "number" ? apiError.err_code : undefined;
}

function clientErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

// "no suitable peers for placement" with "peer offline" as its only reason: a server the meta leader has not heard
// from lately (a restart, or a missed heartbeat under load: CI saw it on a 3-node cluster up for minutes). It
// comes back, or the budget runs out and the error names it; any other reason (insufficient resources, tags)
// refuses the request itself and is not retried.
const NO_SUITABLE_PEERS = 10005;
function onlyPeersOffline(err: unknown): boolean {
  const description = (err as { api_error?: { description?: unknown } } | undefined)?.api_error?.description;
  if (typeof description !== "string") return false;
  const reasons = description.replace(/^no suitable peers for placement,?/, "").split(",").map((r) => r.trim()).filter((r) => r !== "");
  return reasons.length > 0 && reasons.every((r) => r === "peer offline");
}

export function isTransient(err: unknown): boolean {
  const api = apiErrorCode(err);
  if (api !== undefined) return TRANSIENT_API_CODES.includes(api) || (api === NO_SUITABLE_PEERS && onlyPeersOffline(err));
  const code = clientErrorCode(err);
  return code !== undefined && TRANSIENT_CLIENT_CODES.includes(code);
}

/**
 * A connection failure rephrased for a person: which URL, which user, what to check. Named NatsConnectError so
 * the CLIs print it as one line (a class would not survive the provider's serialization).
 */
export function connectError(settings: Pick<ConnectionTarget, "servers" | "user"> & { readonly seed?: string }, err: unknown): Error {
  const urls = settings.servers.join(",");
  const code = clientErrorCode(err);
  const reason = err instanceof Error ? err.message : String(err);
  // Every user's stack config key is its name without "fluo-" plus "Password" or "Seed" (infra/users.ts).
  const credential = settings.seed !== undefined ? ["NKEY seed", "Seed", "seed"] : ["password", "Password", "password"];
  const configKey = `fluo-queue:${settings.user.replace(/^fluo-/, "")}${credential[1]}`;
  const failure =
    code === "AUTHORIZATION_VIOLATION" || code === "BAD_AUTHENTICATION"
      ? new Error(
          `NATS at ${urls} refused user "${settings.user}" (${reason}): check the ${settings.user} ${credential[0]} ` +
            `(stack config ${configKey}, or the ${credential[2]} or context file given to this command)`,
        )
      : /certificate|self[- ]signed|unable to verify/i.test(reason)
        ? new Error(
            `NATS at ${urls} presented a TLS certificate this client does not trust (${reason}): give the cluster's CA ` +
              "(--ca <file> or `ca` in the context file of a CLI; NODE_EXTRA_CA_CERTS=<file> for `pulumi up`)",
          )
        : new Error(
            `cannot reach NATS at ${urls} (${reason}). Is the URL right and the server reachable from here? ` +
              `For a cluster in Kubernetes run \`kubectl -n <namespace> port-forward svc/nats 4222:4222\` in another shell and use nats://127.0.0.1:4222.`,
          );
  failure.name = "NatsConnectError";
  return failure;
}

/**
 * The process-wide JetStreamManager for these settings, connecting on first use. Fails fast (one connect
 * attempt, 5 s at most) with the URL in the message when the server cannot be reached.
 */
export async function jetStreamManager(settings: ConnectionSettings): Promise<JetStreamManager> {
  const connections = cache();
  const key = cacheKey(settings);
  let cached = connections.get(key);
  if (!cached) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nats = require("nats") as typeof import("nats");
    const connection = nats
      .connect({
        servers: [...settings.servers],
        ...loginOptions(settings),
        inboxPrefix: settings.inboxPrefix,
        ...(settings.caFile ? { tls: { caFile: settings.caFile } } : {}),
        name: "fluo-queue-provisioner",
        timeout: CONNECT_TIMEOUT_MS,
        // Once connected, ride out a server restart instead of failing the whole `pulumi up`.
        maxReconnectAttempts: 10,
        reconnectTimeWait: 500,
      })
      .catch((err: unknown) => {
        connections.delete(key);
        throw connectError(settings, err);
      });
    const jsm = connection.then((nc) => {
      // A connection that closes for good is dropped so the next call reconnects.
      void nc.closed().then(() => connections.delete(key));
      return nc.jetstreamManager({ timeout: API_TIMEOUT_MS });
    });
    cached = { connection, jsm };
    connections.set(key, cached);
  }
  return cached.jsm;
}

/**
 * The version of the server this process is connected to (from the INFO it sent on connect), e.g. "2.15.3":
 * the update rules depend on it (serverRules.ts). During a rolling upgrade servers differ; the connected one
 * answers the API calls that matter here.
 */
export async function serverVersion(settings: ConnectionSettings): Promise<string> {
  await jetStreamManager(settings);
  const nc = await cache().get(cacheKey(settings))!.connection;
  return nc.info?.version ?? "0.0.0";
}

/** Closes every connection this process opened (CLI exit, tests). */
export async function closeConnections(): Promise<void> {
  const connections = cache();
  const all = [...connections.values()];
  connections.clear();
  for (const c of all) {
    try {
      await (await c.connection).close();
    } catch {
      // A connection that never opened has nothing to close.
    }
  }
}

/**
 * Runs `call`, retrying transient JetStream errors (no leader yet, timeouts, no responders) with exponential
 * backoff within the policy's total time; any other error is thrown with `what` in front of it, running out of
 * time or a closed connection as a natsUnavailable error naming the operation, the attempts and the last error.
 */
export async function withRetry<T>(what: string, call: () => Promise<T>, policy: RetryPolicy = retryPolicy()): Promise<T> {
  const deadline = Date.now() + policy.totalMs;
  let delay = policy.firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error("no answer"), { code: "TIMEOUT" })), Math.max(left, 0));
    });
    try {
      return await Promise.race([call(), outOfTime]);
    } catch (err) {
      const code = clientErrorCode(err);
      const reason = err instanceof Error ? err.message : String(err);
      if (code !== undefined && CLOSED_CLIENT_CODES.includes(code)) {
        throw natsUnavailable(`${what}: the connection to NATS closed (${code}: every server went away and reconnecting gave up)`);
      }
      if (!isTransient(err)) {
        if (err instanceof Error && apiErrorCode(err) !== undefined) err.message = `${what}: ${err.message} (JetStream error ${apiErrorCode(err)})`;
        throw err;
      }
      const wait = Math.min(delay, deadline - Date.now());
      if (attempt >= policy.attempts || wait <= 0) {
        throw natsUnavailable(
          `${what}: no answer from NATS within ${Math.round(policy.totalMs / 1000)} s (${attempt} attempt(s), last: ${code ?? apiErrorCode(err)} ${reason})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      delay = Math.min(delay * 2, policy.maxDelayMs);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Runs `call`; a JetStream "not found" with one of `codes` gives undefined instead of an error. */
export async function unlessNotFound<T>(call: () => Promise<T>, codes: readonly number[]): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    const code = apiErrorCode(err);
    if (code !== undefined && codes.includes(code)) return undefined;
    throw err;
  }
}
