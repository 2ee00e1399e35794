import { describe, expect, it } from "vitest";
import { accountLayout, ACCOUNT_INFO } from "./accounts";
import { deploymentModel } from "../model";
import { readStackConfig } from "./stackFile";
import { IDENTITY_ACCOUNTS, STREAM_ACCOUNT, SYSTEM_ACCOUNT, USER_NAMES } from "./users";
import { subjectMatches } from "./permissions";
import { natsConfInput } from "./renderCluster";
import { kubernetesTopology } from "./clusterLayout";
import { REDACTED_HASHES } from "./passwordHash";
import { restartChecksum } from "./natsConfig";

const { grants } = deploymentModel(readStackConfig("prod"));
const layout = accountLayout(grants);
const account = (name: string) => layout.find((a) => a.name === name)!;

describe("account layout", () => {
  it("puts the streams in an account of their own that nobody logs in to", () => {
    expect(account(STREAM_ACCOUNT)).toMatchObject({ jetstream: true, identities: [] });
    expect(account(STREAM_ACCOUNT).imports.every((i) => i.kind === "stream")).toBe(true);
    expect(layout.filter((a) => a.jetstream).map((a) => a.name)).toEqual([STREAM_ACCOUNT]);
  });

  it("gives every application and administrative identity an account of its own; monitoring stays in the system account", () => {
    for (const user of USER_NAMES) expect(account(IDENTITY_ACCOUNTS[user]).identities, user).toContain(user);
    for (const plan of layout.filter((a) => a.name !== SYSTEM_ACCOUNT)) expect(plan.identities.length, plan.name).toBeLessThanOrEqual(1);
    expect([...account(SYSTEM_ACCOUNT).identities].sort()).toEqual(["fluo-monitor", "fluo-operator"]);
    expect(new Set(layout.map((a) => a.name)).size).toBe(layout.length);
  });

  it("imports exactly what each identity may publish (plus account info), from the account that serves it", () => {
    for (const { spec, permissions } of grants.filter((g) => g.spec.account !== SYSTEM_ACCOUNT)) {
      const services = account(spec.account).imports.filter((i) => i.kind === "service").map((i) => i.subject);
      // Restore chunks leave as a stream the stream account imports (accounts.ts RESTORE_CHUNKS says why).
      const sent = account(spec.account).exports.filter((e) => e.kind === "stream" && e.importers.includes(STREAM_ACCOUNT)).map((e) => e.subject);
      expect([...services.filter((s) => s !== ACCOUNT_INFO), ...sent].sort(), spec.name).toEqual(permissions.publish.allow.filter((s) => s !== ACCOUNT_INFO).sort());
      // An identity that publishes nothing (the frontend) imports no service at all, not even account info.
      if (permissions.publish.allow.length > 0) expect(services, spec.name).toContain(ACCOUNT_INFO);
      else expect(services, spec.name).toEqual([]);
    }
    // The request-reply service is served by the backend's account, everything else by the stream account.
    expect(account("BFF").imports.find((i) => i.subject === "rpc.backend.>")?.account).toBe("BACKEND");
    expect(account("BFF").imports.filter((i) => i.subject.startsWith("jobs.")).every((i) => i.account === STREAM_ACCOUNT)).toBe(true);
  });

  it("exports every imported subject to the importing accounts only", () => {
    for (const importer of layout) {
      for (const i of importer.imports) {
        const match = account(i.account).exports.find((e) => e.kind === i.kind && e.subject === i.subject);
        expect(match, `${importer.name} imports ${i.kind} ${i.subject} from ${i.account}`).toBeDefined();
        expect(match!.importers, `${i.subject}`).toContain(importer.name);
      }
    }
    for (const exporter of layout) {
      for (const e of exporter.exports) {
        for (const name of e.importers) {
          expect(account(name).imports.some((i) => i.account === exporter.name && i.subject === e.subject), `${exporter.name} exports ${e.subject} to ${name}`).toBe(true);
        }
      }
    }
  });

  it("keeps each export's importers to those whose identity may publish it", () => {
    const accountOwner = new Map(grants.map((g) => [g.spec.account, g]));
    for (const e of account(STREAM_ACCOUNT).exports.filter((x) => x.kind === "service" && x.subject !== ACCOUNT_INFO)) {
      for (const name of e.importers) {
        const g = accountOwner.get(name)!;
        expect(g.permissions.publish.allow.some((p) => p === e.subject || subjectMatches(p, e.subject)), `${name}: ${e.subject}`).toBe(true);
      }
    }
  });

  it("streams several answers to a pull request, one answer to anything else", () => {
    for (const e of account(STREAM_ACCOUNT).exports.filter((x) => x.kind === "service")) {
      expect(e.streamedResponses ?? false, e.subject).toBe(e.subject.startsWith("$JS.API.CONSUMER.MSG.NEXT."));
    }
  });

  it("carries messages as streams only for backups (snapshot chunks and restore acks into the backup's inbox, restore chunks into the stream account) and signals to the frontend", () => {
    const streams = layout.flatMap((a) => a.imports.filter((i) => i.kind === "stream").map((i) => `${a.name} <- ${i.account} ${i.subject}`));
    expect(streams.sort()).toEqual([
      "BACKUP <- FLUO _INBOX_FLUO_BACKUP.>",
      "FLUO <- BACKUP $JS.SNAPSHOT.RESTORE.>",
      // Straight from the publishers' accounts: FLUO would not pass on what reached it through a service import.
      "FRONTEND <- BACKEND signals.status.resolved",
      "FRONTEND <- WORKERS signals.created",
      "FRONTEND <- WORKERS signals.status.*",
    ]);
  });

  it("gives the frontend's account connection limits and no service import: it publishes nothing, JetStream API included", () => {
    const frontend = account(IDENTITY_ACCOUNTS["fluo-frontend"]);
    expect(frontend.imports.filter((i) => i.kind === "service")).toEqual([]);
    expect(frontend.exports).toEqual([]);
    expect(frontend.connectionLimits).toEqual({ maxSubscriptions: 8, maxPayload: 1024 });
    expect(layout.filter((a) => a.connectionLimits).map((a) => a.name)).toEqual(["FRONTEND"]);
    const g = grants.find((x) => x.spec.name === "fluo-frontend")!;
    expect(g.permissions.publish.allow).toEqual([]);
    expect(g.permissions.subscribe.allow).toEqual(["_INBOX_FLUO_FRONTEND.>", "signals.created", "signals.status.*"]);
    expect(g.spec.connectionTypes).toEqual(["WEBSOCKET"]);
  });

  it("is deterministic", () => {
    expect(accountLayout(grants)).toEqual(layout);
  });
});

describe("restart checksum and accounts", () => {
  const config = readStackConfig("prod");
  const input = natsConfInput(config, kubernetesTopology(config), grants, REDACTED_HASHES);

  it("changes when an account is added or removed (a new account's imports work only after a restart)", () => {
    const more = { ...input, accounts: [...input.accounts, { name: "FRONTEND", jetstream: false, users: [] }] };
    expect(restartChecksum(more)).not.toBe(restartChecksum(input));
  });

  it("does not change when an existing account's imports or users change (they reload in place)", () => {
    const fewer = { ...input, accounts: input.accounts.map((a) => ({ ...a, imports: (a.imports ?? []).slice(1), users: a.users.slice(0, 1) })) };
    expect(restartChecksum(fewer)).toBe(restartChecksum(input));
  });
});
