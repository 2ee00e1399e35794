// Markdown tables for docs/streams.md, generated from the catalog, the field tables and the policy rules, so
// the documentation cannot drift from the code (streams/docs.test.ts checks the file contains them).

import { BASE_CATALOG } from "./catalog";
import { CONSUMER_FIELDS, STREAM_FIELDS, type Field } from "./fields";
import { RULES } from "./policy";
import type { Catalog } from "./spec";

const row = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
const table = (head: readonly string[], rows: readonly (readonly string[])[]): string =>
  [row(head), row(head.map(() => "---")), ...rows.map(row)].join("\n");
const code = (s: string): string => `\`${s}\``;

export function catalogMarkdown(catalog: Catalog = BASE_CATALOG): string {
  const streams = table(
    ["stream", "subjects", "retention", "storage", "replicas", "max age", "max bytes", "publishers"],
    catalog.streams.map((s) => [
      s.name,
      s.subjects.map(code).join(", "),
      s.retention,
      s.storage,
      String(s.replicas),
      s.maxAge,
      s.maxBytes,
      s.publishers.join(", ") || "(server advisories)",
    ]),
  );
  const consumers = table(
    ["stream", "durable", "filter", "ack", "ack wait", "max deliver", "backoff", "user"],
    catalog.consumers.map((c) => [
      c.stream,
      c.name,
      c.filterSubject ? code(c.filterSubject) : "(all)",
      `${c.ackPolicy}, deliver ${c.deliverPolicy}`,
      c.ackWait,
      String(c.maxDeliver),
      c.backoff?.join(", ") ?? "-",
      c.consumer,
    ]),
  );
  return `${streams}\n\n${consumers}`;
}

function fieldRows<S>(table: readonly Field<S>[]): string[][] {
  return table.map((f) => [code(f.key), code(f.api), f.change, f.doc]);
}

export function fieldTablesMarkdown(): string {
  const head = ["spec field", "API field", "on change", "meaning"];
  return `Stream:\n\n${table(head, fieldRows(STREAM_FIELDS))}\n\nConsumer:\n\n${table(head, fieldRows(CONSUMER_FIELDS))}`;
}

export function policyMarkdown(): string {
  return table(["rule", "what it checks"], Object.entries(RULES).map(([id, text]) => [code(id), text]));
}
