// Recorded exporter scrapes served again over HTTP, one loopback port per pod, so a real Prometheus can scrape
// them as if the exporters were running: a fixed, known data set for the dashboard test (the values are frozen at
// the moment of recording, and the recording left a consumer backlog so the alert table has a row).

import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { freePort } from "../../local/localCluster";
import { scrapeFile } from "./recording";
import type { LocalTarget } from "./prometheus";

export interface Replay {
  readonly targets: readonly LocalTarget[];
  stop(): Promise<void>;
}

export async function replayRecordedScrapes(pods: readonly string[]): Promise<Replay> {
  const servers: Server[] = [];
  const targets: LocalTarget[] = [];
  try {
    for (const pod of pods) {
      const body = readFileSync(scrapeFile(pod), "utf8");
      const server = createServer((req, res) => {
        if (req.url !== "/metrics") {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(body);
      });
      const port = await freePort();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve());
      });
      servers.push(server);
      targets.push({ pod, address: `127.0.0.1:${port}` });
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }
  return {
    targets,
    stop: async () => {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}
