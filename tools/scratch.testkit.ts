// Test kit: a temp directory per test file, removed after the file's tests, with numbered subfolders so every
// case runs on its own cache, PATH or project copy.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

/** Returns a maker of fresh, empty directories under one temp folder named after `prefix`. */
export function scratchDirs(prefix: string): (name: string) => string {
  const scratch = mkdtempSync(join(tmpdir(), `${prefix}-`));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  let counter = 0;
  return (name: string): string => {
    const dir = join(scratch, `${name}-${counter++}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
}
