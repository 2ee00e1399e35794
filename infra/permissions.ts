// A user's publish/subscribe permissions, as plain data that several sources add to (the base grants in
// infra/users.ts, the JetStream grants derived from the stream catalog) and one function renders.

export interface SubjectRules {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

export interface Permissions {
  readonly publish: SubjectRules;
  readonly subscribe: SubjectRules;
  /**
   * `allow_responses`: may answer the requests it receives. Only responders of a service another account imports
   * get it (infra/accounts.ts): a request that crossed an import carries a `_R_` reply the server made in the
   * responder's account, and the answer goes back into the requester's own account, so the requester cannot aim
   * it at a subject of the responder's (in one shared account it could: audit, issue 12).
   */
  readonly responses: boolean;
}

export const NO_PERMISSIONS: Permissions = {
  publish: { allow: [], deny: [] },
  subscribe: { allow: [], deny: [] },
  responses: false,
};

export function grant(partial: {
  publish?: readonly string[];
  subscribe?: readonly string[];
  denyPublish?: readonly string[];
  denySubscribe?: readonly string[];
  responses?: boolean;
}): Permissions {
  return {
    publish: { allow: partial.publish ?? [], deny: partial.denyPublish ?? [] },
    subscribe: { allow: partial.subscribe ?? [], deny: partial.denySubscribe ?? [] },
    responses: partial.responses ?? false,
  };
}

const union = (a: readonly string[], b: readonly string[]): string[] => [...new Set([...a, ...b])].sort();

/** The union of two grants; deny lists add up too (nats-server applies deny after allow). */
export function mergePermissions(a: Permissions, b: Permissions): Permissions {
  return {
    publish: { allow: union(a.publish.allow, b.publish.allow), deny: union(a.publish.deny, b.publish.deny) },
    subscribe: { allow: union(a.subscribe.allow, b.subscribe.allow), deny: union(a.subscribe.deny, b.subscribe.deny) },
    responses: a.responses || b.responses,
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
