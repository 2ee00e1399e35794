// What the connected nats-server lets an update change, by version. The rules move between minor lines, so the
// provider reads the server's version (the INFO it sent on connect) and asks here instead of assuming the
// oldest rules. Each rule cites the nats-server source it was read from (github.com/nats-io/nats-server).

export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** "2.15.3", "v2.14.10", "2.12.0-RC.1" -> numbers; anything else is an error naming the value. */
export function parseServerVersion(text: string): ServerVersion {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  if (!match) throw new Error(`cannot read a nats-server version from "${text}"`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

const atLeast = (v: ServerVersion, major: number, minor: number, patch = 0): boolean =>
  v.major !== major ? v.major > major : v.minor !== minor ? v.minor > minor : v.patch >= patch;

export interface UpdateRules {
  readonly version: string;
  /**
   * Whether a stream's retention may change in place. server/stream.go configUpdateCheck: v2.9.25 refuses any
   * change ("can not change retention policy"); from v2.10.0 only to or from workqueue is refused ("can not
   * change retention policy to/from workqueue"), so limits <-> interest is an update.
   */
  retentionChangesInPlace(from: string, to: string): boolean;
  /**
   * max_consumers: configUpdateCheck refuses a change ("can not change MaxConsumers") through v2.12.4; the check
   * is gone from v2.12.5 and v2.14.0 (commit ce880c867 "Allow updating stream's MaxConsumers limit").
   */
  readonly maxConsumersUpdatable: boolean;
  /** republish: configUpdateCheck of v2.9.25 refuses a change ("can not change RePublish"); v2.10.0 dropped it. */
  readonly republishUpdatable: boolean;
  /**
   * Mirror promotion: v2.12.0's configUpdateCheck compares mirrors only when the new config has one ("We will
   * allow removing the mirror config to promote the mirror to a normal stream"); before, any change is refused.
   */
  readonly mirrorPromotion: boolean;
  /**
   * The consumer create/update `action` nats.js sends: server/consumer.go has ConsumerAction from v2.10.0, and
   * addConsumerWithAction refuses a create over an existing consumer with another config (JSConsumerAlreadyExists,
   * 10148) and an update of a missing one (JSConsumerDoesNotExist, 10149). v2.9 ignores the field.
   */
  readonly consumerActionEnforced: boolean;
  /**
   * backoff vs max_deliver, server/consumer.go checkConsumerCfg: up to v2.10.22 "MaxDeliver <= len(BackOff)" is an
   * error (max_deliver must exceed the backoff list); from v2.10.23 and v2.11.0 (commit 747097590 "fix check of
   * the backoff and max delivery configs") only len(BackOff) > MaxDeliver with MaxDeliver != -1 is.
   */
  backoffAllowed(backoffs: number, maxDeliver: number): boolean;
}

export function updateRules(versionText: string): UpdateRules {
  const v = parseServerVersion(versionText);
  const from210 = atLeast(v, 2, 10);
  const relaxedBackoff = atLeast(v, 2, 11) || (v.major === 2 && v.minor === 10 && v.patch >= 23);
  return {
    version: `${v.major}.${v.minor}.${v.patch}`,
    retentionChangesInPlace: (from, to) => from === to || (from210 && from !== "workqueue" && to !== "workqueue"),
    maxConsumersUpdatable: atLeast(v, 2, 12, 5),
    republishUpdatable: from210,
    mirrorPromotion: atLeast(v, 2, 12),
    consumerActionEnforced: from210,
    backoffAllowed: (backoffs, maxDeliver) =>
      backoffs === 0 || (relaxedBackoff ? maxDeliver === -1 || backoffs <= maxDeliver : maxDeliver > backoffs),
  };
}
