// Each NATS user's permissions: its base grants (infra/users.ts) plus what the stream catalog derives for it.
// The catalog's part arrives as plain data, so infra/ does not depend on streams/ and a new consumer never
// needs a hand edit of the user list.

import { userSpecs, type UserSpec } from "./users";
import { mergePermissions, type Permissions } from "./permissions";

export interface UserGrant {
  readonly spec: UserSpec;
  readonly permissions: Permissions;
}

/** Permissions contributed by another part of the model (the stream catalog), keyed by user name. */
export type ExtraGrants = ReadonlyMap<string, Permissions>;

/** Each user with its base grants plus whatever the stream catalog derives for it. */
export function userGrants(extra: ExtraGrants = new Map()): UserGrant[] {
  const specs = userSpecs();
  for (const user of extra.keys()) {
    if (!specs.some((s) => s.name === user)) {
      throw new Error(`permissions were derived for "${user}", which is not a NATS user (${specs.map((s) => s.name).join(", ")})`);
    }
  }
  return specs.map((spec) => {
    const more = extra.get(spec.name);
    return { spec, permissions: more ? mergePermissions(spec.base, more) : spec.base };
  });
}
