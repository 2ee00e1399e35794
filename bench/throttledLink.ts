// A link between two regions that can be held back and cut, in user space (no root, no netem): a TCP proxy on
// 127.0.0.1 in front of each of the primary's leafnode ports, passing bytes in both directions through one token
// bucket per direction shared by every connection, as one WAN link between two sites is shared.

import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";

export interface LinkOptions {
  /** Bytes per second in each direction; 0 = unlimited. */
  readonly bytesPerSecond: number;
}

/** One direction's budget: chunks wait until the bucket has refilled enough for them, in arrival order. */
class TokenBucket {
  private available: number;
  private last = performance.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly rate: number) {
    // A burst of 50 ms worth: enough for a TCP window on a fast link, small enough to hold a slow one back.
    this.available = rate / 20;
  }

  /** Resolves when `bytes` may be sent. */
  take(bytes: number): Promise<void> {
    if (this.rate === 0) return Promise.resolve();
    const turn = this.queue.then(async () => {
      for (;;) {
        const now = performance.now();
        this.available = Math.min(this.rate / 20, this.available + ((now - this.last) / 1000) * this.rate);
        this.last = now;
        if (this.available >= Math.min(bytes, this.rate / 20)) {
          this.available -= bytes;
          return;
        }
        await new Promise((r) => setTimeout(r, Math.max(1, ((bytes - this.available) / this.rate) * 1000)));
      }
    });
    this.queue = turn;
    return turn;
  }
}

export class ThrottledLink {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private cut = false;
  private readonly up: TokenBucket;
  private readonly down: TokenBucket;
  /** Bytes that crossed, standby -> primary and primary -> standby. */
  readonly bytes = { up: 0, down: 0 };

  private constructor(options: LinkOptions) {
    this.up = new TokenBucket(options.bytesPerSecond);
    this.down = new TokenBucket(options.bytesPerSecond);
  }

  /** Opens one proxy port per target port; resolves with the proxy ports, in the same order. */
  static async open(targets: readonly number[], options: LinkOptions): Promise<{ link: ThrottledLink; ports: number[] }> {
    const link = new ThrottledLink(options);
    const ports: number[] = [];
    for (const target of targets) {
      const server = createServer((client) => link.relay(client, target));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      link.servers.push(server);
      ports.push((server.address() as { port: number }).port);
    }
    return { link, ports };
  }

  private relay(client: Socket, target: number): void {
    if (this.cut) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    this.pipe(client, upstream, this.up, "up");
    this.pipe(upstream, client, this.down, "down");
  }

  /** Copies `from` to `to` through the bucket, pausing `from` while a chunk waits (TCP backpressure). */
  private pipe(from: Socket, to: Socket, bucket: TokenBucket, direction: "up" | "down"): void {
    from.on("data", (chunk: Buffer) => {
      from.pause();
      void bucket.take(chunk.length).then(() => {
        if (this.cut || to.destroyed) return;
        this.bytes[direction] += chunk.length;
        to.write(chunk, () => from.resume());
      });
    });
    from.on("end", () => to.end());
  }

  /** Cuts the link: every connection through it closes and new ones are refused until the link is closed. */
  cutNow(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cutNow();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
