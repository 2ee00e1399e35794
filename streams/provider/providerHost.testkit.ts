// Test kit: runs the Pulumi SDK's real dynamic provider host (the process the engine starts for
// `pulumi-nodejs:dynamic:*` resources) and calls it over gRPC the way the engine does: serialization, configure()
// and secrets only behave as in `pulumi up` inside that host, not when the ops are called directly.

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { CONSUMER_PROVIDER_TEXT, STREAM_PROVIDER_TEXT } from "./resources";

/** The `__provider` texts the program registers for each kind (what the engine sends the host). */
export interface ProviderTexts {
  readonly stream: string;
  readonly consumer: string;
}

export const PROVIDER_TEXTS: ProviderTexts = { stream: STREAM_PROVIDER_TEXT, consumer: CONSUMER_PROVIDER_TEXT };

/** The texts of state written by earlier versions (streams/provider/testdata), which must keep loading. */
export function earlierProviderTexts(): ProviderTexts {
  const file = join(__dirname, "testdata", "loader-2026-11.json");
  return JSON.parse(readFileSync(file, "utf8")) as ProviderTexts;
}

/* The SDK's generated protobuf/gRPC stubs are plain JavaScript without typings: typed here to what we use. */
interface ProtoStruct {
  toJavaScript(): Record<string, unknown>;
}
interface StructStatic {
  fromJavaScript(value: Record<string, unknown>): ProtoStruct;
}
type Callback<T> = (err: grpc.ServiceError | null, value: T) => void;
type Unary = (request: unknown, callback: Callback<ProtoMessage>) => void;
interface ProtoMessage {
  [getter: string]: unknown;
}

export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** A config value wrapped as a secret, as the engine sends secret stack config. */
export function secretValue(value: string): Record<string, unknown> {
  return { [SECRET_SIG_KEY]: SECRET_SIG, value };
}

export interface DiffAnswer {
  readonly changes: "none" | "some" | "unknown";
  readonly replaces: string[];
  readonly deleteBeforeReplace: boolean;
}

export class ProviderHost {
  private constructor(
    private readonly child: ChildProcess,
    private readonly client: Record<string, Unary> & grpc.Client,
    readonly stderr: () => string,
  ) {}

  /** Starts `node <sdk>/cmd/dynamic-provider 127.0.0.1:0` in `root` (so `require("nats")` resolves there). */
  static async start(root: string): Promise<ProviderHost> {
    const sdk = join(root, "node_modules/@pulumi/pulumi");
    const child = spawn(process.execPath, [join(sdk, "cmd/dynamic-provider"), "127.0.0.1:0"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const line = /^(\d+)\s*$/m.exec(out);
        if (line) resolve(Number(line[1]));
      });
      child.once("exit", (code) => reject(new Error(`provider host exited (${code}): ${err}`)));
    });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const services = require(join(sdk, "proto/provider_grpc_pb")) as {
      ResourceProviderClient: new (address: string, credentials: grpc.ChannelCredentials) => Record<string, Unary> & grpc.Client;
    };
    const client = new services.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new ProviderHost(child, client, () => err);
  }

  private proto(): Record<string, new () => ProtoMessage> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("@pulumi/pulumi/proto/provider_pb") as Record<string, new () => ProtoMessage>;
  }

  private struct(value: Record<string, unknown>): ProtoStruct {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const structs = require("google-protobuf/google/protobuf/struct_pb") as { Struct: StructStatic };
    return structs.Struct.fromJavaScript(value);
  }

  private request(type: string, fields: Record<string, unknown>): ProtoMessage {
    const message = new (this.proto()[type])();
    for (const [name, value] of Object.entries(fields)) {
      const setter = message[`set${name}`] as (v: unknown) => void;
      setter.call(message, value && typeof value === "object" && !Array.isArray(value) ? this.struct(value as Record<string, unknown>) : value);
    }
    return message;
  }

  private call(method: string, request: ProtoMessage): Promise<ProtoMessage> {
    return new Promise((resolve, reject) => {
      this.client[method].call(this.client, request, (err, value) => (err ? reject(new Error(err.details || err.message)) : resolve(value)));
    });
  }

  private static js(message: ProtoMessage, getter: string): Record<string, unknown> | undefined {
    const struct = (message[getter] as () => ProtoStruct | undefined).call(message);
    return struct?.toJavaScript();
  }

  async configure(config: Record<string, unknown>): Promise<void> {
    await this.call("configure", this.request("ConfigureRequest", { Args: config, Acceptsecrets: true }));
  }

  async check(urn: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<{ inputs: Record<string, unknown>; failures: Array<{ property: string; reason: string }> }> {
    const res = await this.call("check", this.request("CheckRequest", { Urn: urn, Olds: olds, News: news }));
    const failures = (res.getFailuresList as () => ProtoMessage[]).call(res).map((f) => ({
      property: (f.getProperty as () => string).call(f),
      reason: (f.getReason as () => string).call(f),
    }));
    return { inputs: ProviderHost.js(res, "getInputs") ?? {}, failures };
  }

  async diff(id: string, urn: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<DiffAnswer> {
    const res = await this.call("diff", this.request("DiffRequest", { Id: id, Urn: urn, Olds: olds, News: news }));
    const changes = (res.getChanges as () => number).call(res);
    return {
      changes: changes === 2 ? "some" : changes === 1 ? "none" : "unknown",
      replaces: (res.getReplacesList as () => string[]).call(res),
      deleteBeforeReplace: (res.getDeletebeforereplace as () => boolean).call(res),
    };
  }

  async create(urn: string, properties: Record<string, unknown>): Promise<{ id: string; properties: Record<string, unknown> }> {
    const res = await this.call("create", this.request("CreateRequest", { Urn: urn, Properties: properties }));
    return { id: (res.getId as () => string).call(res), properties: ProviderHost.js(res, "getProperties") ?? {} };
  }

  async read(id: string, urn: string, properties: Record<string, unknown>): Promise<{ id: string; properties: Record<string, unknown> }> {
    const res = await this.call("read", this.request("ReadRequest", { Id: id, Urn: urn, Properties: properties }));
    return { id: (res.getId as () => string).call(res), properties: ProviderHost.js(res, "getProperties") ?? {} };
  }

  async update(id: string, urn: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await this.call("update", this.request("UpdateRequest", { Id: id, Urn: urn, Olds: olds, News: news }));
    return ProviderHost.js(res, "getProperties") ?? {};
  }

  async delete(id: string, urn: string, properties: Record<string, unknown>): Promise<void> {
    await this.call("delete", this.request("DeleteRequest", { Id: id, Urn: urn, Properties: properties }));
  }

  async stop(): Promise<void> {
    this.client.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    await exited;
  }
}
