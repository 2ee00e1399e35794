// A user's publish/subscribe permissions, as plain data that several sources add to (the base grants in
// infra/users.ts, the JetStream grants derived from the stream catalog) and one function renders.

export interface SubjectRules {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

export interface Permissions {
  readonly publish: SubjectRules;
  readonly subscribe: SubjectRules;
  // No `allow_responses`, by design: with it the REQUESTER picks where the responder's answer goes, so an answer
  // can be aimed at any subject the requester may not publish itself ($JS.API.STREAM.DELETE.*), and deny lists
  // do not stop it. Responders get publish on their requesters' inboxes instead (infra/users.ts rpcGrants).
}

export const NO_PERMISSIONS: Permissions = {
  publish: { allow: [], deny: [] },
  subscribe: { allow: [], deny: [] },
};

export function grant(partial: {
  publish?: readonly string[];
  subscribe?: readonly string[];
  denyPublish?: readonly string[];
  denySubscribe?: readonly string[];
}): Permissions {
  return {
    publish: { allow: partial.publish ?? [], deny: partial.denyPublish ?? [] },
    subscribe: { allow: partial.subscribe ?? [], deny: partial.denySubscribe ?? [] },
  };
}

const union = (a: readonly string[], b: readonly string[]): string[] => [...new Set([...a, ...b])].sort();

/** The union of two grants; deny lists add up too (nats-server applies deny after allow). */
export function mergePermissions(a: Permissions, b: Permissions): Permissions {
  return {
    publish: { allow: union(a.publish.allow, b.publish.allow), deny: union(a.publish.deny, b.publish.deny) },
    subscribe: { allow: union(a.subscribe.allow, b.subscribe.allow), deny: union(a.subscribe.deny, b.subscribe.deny) },
  };
}

/** Whether a NATS subject pattern (with * and >) matches a concrete subject or narrower pattern. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] === "*") {
      if (s[i] === ">") return false;
      continue;
    }
    if (p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Whether two subject patterns can both match some subject. */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; ; i++) {
    if (i >= x.length || i >= y.length) return x.length === y.length;
    if (x[i] === ">" || y[i] === ">") return true;
    if (x[i] === "*" || y[i] === "*") continue;
    if (x[i] !== y[i]) return false;
  }
}
