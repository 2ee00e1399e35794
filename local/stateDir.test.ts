import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { prepareStateDir, resetStateDir, stateLayout } from "./stateDir";

const fresh = (): string => mkdtempSync(join(tmpdir(), "fluo-state-"));

describe("local state directory", () => {
  it("creates a new directory as a private, marked state dir", () => {
    const layout = stateLayout(join(fresh(), "state"));
    prepareStateDir(layout);
    expect(existsSync(layout.record)).toBe(true);
    expect(statSync(layout.root).mode & 0o777).toBe(0o700);
    expect(statSync(layout.credentials).mode & 0o777).toBe(0o700);
  });

  it("refuses a foreign non-empty directory, leaving it and its mode untouched", () => {
    const dir = fresh();
    writeFileSync(join(dir, "notes.txt"), "mine");
    const before = statSync(dir).mode;
    expect(() => prepareStateDir(stateLayout(dir))).toThrow(/--state-dir: .* is not a local-mode state directory/);
    expect(() => resetStateDir(stateLayout(dir))).toThrow(/--reset: .* is not a local-mode state directory/);
    expect(readdirSync(dir)).toEqual(["notes.txt"]);
    expect(statSync(dir).mode).toBe(before);
  });

  it("--reset empties a state dir it made, and the next start marks it again", () => {
    const layout = stateLayout(join(fresh(), "state"));
    prepareStateDir(layout);
    mkdirSync(join(layout.root, "nats-0", "data"), { recursive: true });
    resetStateDir(layout);
    expect(readdirSync(layout.root)).toEqual([]);
    prepareStateDir(layout);
    expect(existsSync(layout.record)).toBe(true);
  });
});
