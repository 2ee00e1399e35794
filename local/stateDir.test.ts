import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
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

  it("re-tightens what a user loosened at the next start: folders 0700, credentials, certificates, record and nats.conf 0600", () => {
    const layout = stateLayout(join(fresh(), "state"));
    prepareStateDir(layout);
    mkdirSync(layout.tls);
    mkdirSync(join(layout.root, "nats-0", "data"), { recursive: true });
    const files = [layout.passwords, layout.seedFile("fluo-bff"), join(layout.tls, "ca.key"), join(layout.root, "nats-0", "nats.conf"), layout.record];
    for (const f of files) writeFileSync(f, "secret", { mode: 0o644 });
    const store = join(layout.root, "nats-0", "data", "stream.blk");
    writeFileSync(store, "data", { mode: 0o644 });
    for (const d of [layout.root, layout.credentials, layout.tls, join(layout.root, "nats-0")]) chmodSync(d, 0o755);
    prepareStateDir(layout);
    for (const f of files) expect(statSync(f).mode & 0o777, f).toBe(0o600);
    for (const d of [layout.root, layout.credentials, layout.tls, join(layout.root, "nats-0")]) expect(statSync(d).mode & 0o777, d).toBe(0o700);
    // The JetStream store is the server's: left as it wrote it.
    expect(statSync(store).mode & 0o777).toBe(0o644);
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
