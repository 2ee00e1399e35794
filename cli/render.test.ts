import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { main } from "./render";

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(dir, path)] = readFileSync(path, "utf8");
    }
  };
  walk(dir);
  return out;
}

function render(args: string[]): { code: number; stderr: string } {
  const errors: string[] = [];
  const err = vi.spyOn(console, "error").mockImplementation((m: unknown) => void errors.push(String(m)));
  const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  try {
    return { code: main(args), stderr: errors.join("\n") };
  } finally {
    err.mockRestore();
    log.mockRestore();
  }
}

describe("npm run render", () => {
  it("writes nats.conf and every Kubernetes object, byte-identical across runs", () => {
    const a = mkdtempSync(join(tmpdir(), "render-a-"));
    const b = mkdtempSync(join(tmpdir(), "render-b-"));
    expect(render(["--stack", "prod", "--out", a]).code).toBe(0);
    expect(render(["--stack", "prod", "--out", b]).code).toBe(0);
    const first = tree(a);
    expect(Object.keys(first)).toEqual(expect.arrayContaining(["nats.conf", "kubernetes/06-statefulset-nats.yaml"]));
    expect(tree(b)).toEqual(first);
  });

  it("redacts the config Secret unless --show-secrets, and hashes given passwords", () => {
    const dir = mkdtempSync(join(tmpdir(), "render-secrets-"));
    const passwords = join(dir, "passwords.json");
    writeFileSync(passwords, JSON.stringify({ "fluo-bff": "bff-plaintext" }));
    const out = join(dir, "out");
    expect(render(["--stack", "dev", "--out", out, "--passwords", passwords]).code).toBe(0);
    const redacted = readFileSync(join(out, "kubernetes/03-secret-nats-config.yaml"), "utf8");
    expect(redacted).toMatch(/nats\.conf: "<redacted: \d+ bytes, sha256 [0-9a-f]{16}>"/);
    const conf = readFileSync(join(out, "nats.conf"), "utf8");
    expect(conf).toMatch(/user: "fluo-bff"\n\s+password: "\$2a\$11\$/);
    expect(conf).not.toContain("bff-plaintext");
    expect(render(["--stack", "dev", "--out", out, "--show-secrets"]).code).toBe(0);
    expect(readFileSync(join(out, "kubernetes/03-secret-nats-config.yaml"), "utf8")).toContain("jetstream {");
  });

  it("rejects bad flags and unknown stacks with a message naming them", () => {
    expect(render(["--stack", "dev"])).toMatchObject({ code: 1, stderr: expect.stringMatching(/usage: npm run render/) });
    expect(render(["--stack", "dev", "--out", "/tmp/x", "--colour"])).toMatchObject({ code: 1, stderr: expect.stringMatching(/unknown argument "--colour"/) });
    expect(render(["--stack", "qa", "--out", "/tmp/x"])).toMatchObject({ code: 1, stderr: expect.stringMatching(/no .*Pulumi\.qa\.yaml/) });
  });

  it("refuses to write into a non-empty directory that is not render output, deleting nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "render-foreign-"));
    mkdirSync(join(dir, "alerts"));
    writeFileSync(join(dir, "alerts", "rules.ts"), "source");
    expect(render(["--stack", "dev", "--out", dir])).toMatchObject({ code: 1, stderr: expect.stringMatching(/not empty and not a previous render output/) });
    expect(readFileSync(join(dir, "alerts", "rules.ts"), "utf8")).toBe("source");
  });
});
