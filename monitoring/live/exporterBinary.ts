// Which prometheus-nats-exporter the live monitoring runs use: EXPORTER_BIN, else the pinned build of
// tools/versions.json (the exporterImage version), else one on PATH (tools/resolve.ts).

import { requireBinary, type ToolBinary } from "../../tools/resolve";

export const EXPORTER: ToolBinary = { tool: "prometheus-nats-exporter", binary: "prometheus-nats-exporter", envVar: "EXPORTER_BIN" };

export function exporterBinary(): string {
  return requireBinary(EXPORTER).path;
}
