// What `npm run local` says about the nats-server it runs (the start-up itself: test/local.live.test.ts).

import { describe, expect, it } from "vitest";
import { serverVersionLines } from "./local";

const pinned = { path: "/cache/nats-server-v2.15.3/bin/nats-server", source: "pinned", tool: "nats-server" } as const;
const distro = { path: "/usr/bin/nats-server", source: "PATH", tool: "nats-server" } as const;

describe("npm run local's server version line", () => {
  it("names the version and where the binary came from, with no warning when it is the image's", () => {
    expect(serverVersionLines("2.15.3", pinned, "nats:2.15.3-alpine")).toEqual({
      progress: "nats-server 2.15.3 (pinned build: /cache/nats-server-v2.15.3/bin/nats-server)",
    });
  });

  it("warns when a distribution's server is not the image's version, naming both and the fix", () => {
    expect(serverVersionLines("2.9.10", distro, "nats:2.15.3-alpine")).toEqual({
      progress: "nats-server 2.9.10 (from PATH: /usr/bin/nats-server)",
      warning:
        "warning: the local nats-server is 2.9.10, the cluster's image nats:2.15.3-alpine runs 2.15.3: behaviour may differ; " +
        "`npm run tools -- nats-server` builds the image's version (README: Test tools)",
    });
  });

  it("warns when the image is pinned by digest (no version to compare)", () => {
    const image = `nats@sha256:${"a".repeat(64)}`;
    expect(serverVersionLines("2.15.3", pinned, image).warning).toBe(`warning: natsImage ${image} names no version to compare with the local nats-server 2.15.3`);
  });
});
