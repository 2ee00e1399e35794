// Stable local ports derived from one base port, so node URLs (and the credentials files that hold them) stay
// the same from one `npm run local` to the next. With the default base they are the familiar NATS ports:
// clients 4222.., cluster routes 6222.., monitoring 8222...

import type { NodePorts } from "./localCluster";

export const DEFAULT_BASE_PORT = 4222;
/** Distance between the client, cluster and monitor port ranges. */
export const PORT_RANGE_STRIDE = 2000;

/** Ports of `count` servers: client base+i, cluster base+2000+i, monitor base+4000+i. */
export function portsFromBase(base: number, count: number): NodePorts[] {
  const highest = base + 2 * PORT_RANGE_STRIDE + count - 1;
  if (!Number.isInteger(base) || base < 1024 || highest > 65535) {
    throw new RangeError(
      `base port ${base}: must be an integer from 1024 to ${65535 - 2 * PORT_RANGE_STRIDE - count + 1} ` +
        `(ports base+i, base+${PORT_RANGE_STRIDE}+i and base+${2 * PORT_RANGE_STRIDE}+i are used)`,
    );
  }
  return Array.from({ length: count }, (_, i) => ({
    client: base + i,
    cluster: base + PORT_RANGE_STRIDE + i,
    monitor: base + 2 * PORT_RANGE_STRIDE + i,
  }));
}

/**
 * The WebSocket ports of `count` servers: base+8000+i (12222.. by default), above the leafnode range a region pair
 * takes (base+6000+i, local/regionPair.ts), so `npm run local` keeps one URL for browsers from start to start.
 */
export function websocketPortsFromBase(base: number, count: number): number[] {
  const ports = Array.from({ length: count }, (_, i) => base + 4 * PORT_RANGE_STRIDE + i);
  if (ports[ports.length - 1] > 65535) {
    throw new RangeError(`base port ${base}: the WebSocket ports base+${4 * PORT_RANGE_STRIDE}+i must stay below 65536; use a base of at most ${65535 - 4 * PORT_RANGE_STRIDE - count + 1}`);
  }
  return ports;
}
