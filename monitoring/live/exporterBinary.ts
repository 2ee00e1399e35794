// Which prometheus-nats-exporter the live monitoring runs use: EXPORTER_BIN, else the pinned build of
// tools/versions.json (the exporterImage version), else one on PATH.

import { resolveBinary } from "../../tools/resolve";

export const EXPORTER_HINT =
  "prometheus-nats-exporter was not found: build the pinned version with `npm run tools -- prometheus-nats-exporter` " +
  "(needs Go and the module proxy), or set EXPORTER_BIN to a binary of the exporterImage version";

export function exporterBinary(): string {
  const resolved = resolveBinary("prometheus-nats-exporter", "prometheus-nats-exporter", "EXPORTER_BIN");
  if (!resolved) throw new Error(EXPORTER_HINT);
  return resolved.path;
}
