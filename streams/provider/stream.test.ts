// The Stream provider's own check, without a server: what a resource declared outside the catalog, or a
// standby region's mirror, must satisfy before anything is sent.

import { describe, expect, it } from "vitest";
import { streamProblems } from "./stream";
import { UNKNOWN } from "./settings";

const base = { name: "EVENTS", retention: "limits", storage: "file", replicas: 3, maxBytes: "1GiB" };
const subjectsProblems = (news: Record<string, unknown>) => streamProblems({ ...base, ...news }).filter((f) => f.property === "subjects");

describe("streamProblems: subjects", () => {
  it("needs at least one subject on a stream of its own", () => {
    expect(subjectsProblems({ subjects: [] })).toEqual([{ property: "subjects", reason: "subjects = []: must list at least one subject" }]);
    expect(subjectsProblems({ subjects: ["events.>"] })).toEqual([]);
  });

  it("takes none on a mirror (a standby's EVENTS), and refuses any there", () => {
    const mirror = { name: "EVENTS", domain: "east" };
    expect(subjectsProblems({ subjects: [], mirror })).toEqual([]);
    expect(subjectsProblems({ subjects: ["events.>"], mirror })).toEqual([
      { property: "subjects", reason: 'subjects = ["events.>"]: must be empty on a mirror (the server copies its origin\'s subjects)' },
    ]);
  });

  it("lets unknown subjects or an unknown mirror through to up", () => {
    expect(subjectsProblems({ subjects: [], mirror: UNKNOWN })).toEqual([]);
    expect(subjectsProblems({ subjects: UNKNOWN })).toEqual([]);
  });
});
