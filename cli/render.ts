// npm run render -- --stack <name> --out <dir> [--passwords <file.json>] [--show-secrets]
// Writes every artifact `pulumi up` would apply, from the same code, without the Pulumi CLI or a cluster.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { deploymentModel, renderFiles, type RenderOptions } from "../model";
import { isUserError } from "./errors";
import { parseFlags, UsageError } from "./stackFile";
import { readStackConfig } from "../infra/stackFile";

// "alerts" is where renders before the monitoring/ rename put the rule files: a re-render removes it.
const OWNED = ["nats.conf", "kubernetes", "streams.json", "monitoring", "dashboards", "alerts"];
// Marks a directory as render output: only such a directory (or an empty or new one) has OWNED paths replaced,
// so `--out .` in the project cannot delete the monitoring/ sources.
const MARKER = ".fluo-render";

function assertRenderDir(out: string): void {
  if (!existsSync(out)) return;
  const entries = readdirSync(out);
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw new UsageError(`--out ${out}: not empty and not a previous render output (no ${MARKER}); choose a new or empty directory`);
  }
}

function readPasswords(file: string): Record<string, string> {
  const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
  if (typeof parsed !== "object" || parsed === null || Object.values(parsed).some((v) => typeof v !== "string")) {
    throw new UsageError(`--passwords ${file}: must be a JSON object of user name to password`);
  }
  return parsed as Record<string, string>;
}

export function main(argv: readonly string[]): number {
  try {
    const { values, switches } = parseFlags(argv, { values: ["stack", "out", "passwords"], switches: ["show-secrets"] });
    if (!values.stack || !values.out) throw new UsageError("usage: npm run render -- --stack <name> --out <dir> [--passwords <file.json>] [--show-secrets]");
    const config = readStackConfig(values.stack);
    const options: RenderOptions = {
      passwords: values.passwords ? readPasswords(values.passwords) : undefined,
      showSecrets: switches.has("show-secrets"),
    };
    const files = renderFiles(deploymentModel(config), options);
    const out = resolve(values.out);
    assertRenderDir(out);
    for (const owned of OWNED) rmSync(join(out, owned), { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, MARKER), "written by npm run render; its files are replaced by the next render\n");
    for (const file of files) {
      mkdirSync(dirname(join(out, file.path)), { recursive: true });
      writeFileSync(join(out, file.path), file.content);
    }
    console.log(`Rendered stack ${config.stack} into ${out}: ${files.map((f) => f.path).join(", ")}`);
    return 0;
  } catch (err) {
    if (isUserError(err)) {
      console.error(`render: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
