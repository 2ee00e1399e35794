import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { catalogMarkdown, fieldTablesMarkdown, policyMarkdown } from "./docs";

const doc = readFileSync(join(__dirname, "..", "docs", "streams.md"), "utf8");

describe("docs/streams.md", () => {
  it.each([
    ["catalog", catalogMarkdown()],
    ["field tables", fieldTablesMarkdown()],
    ["policy rules", policyMarkdown()],
  ])("contains the generated %s table (regenerate from streams/docs.ts when this fails)", (_what, markdown) => {
    expect(doc).toContain(markdown);
  });
});
