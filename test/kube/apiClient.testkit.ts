// Test kit: a small JSON client of the Kubernetes API over HTTPS with the administrator's client certificate, for
// what the tests do through the API themselves (CRDs, the kubelet player, reading objects back, making drift).
// The program under test never uses it: it talks to the cluster only through the Kubernetes provider.

import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";

/** What the server answered: status, parsed JSON body (or the raw text) and any Warning headers. */
export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  /** The text of each `Warning: 299 - "..."` header: admission warnings such as Pod Security's. */
  readonly warnings: readonly string[];
}

/** An object as the API returns it: enough shape for the kit to read names, labels and status. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: string;
    readonly ownerReferences?: readonly { readonly kind: string; readonly name: string }[];
  };
  readonly spec?: Readonly<Record<string, unknown>>;
  readonly status?: Readonly<Record<string, unknown>>;
  readonly [field: string]: unknown;
}

export interface KubeList<T extends KubeObject = KubeObject> {
  readonly items: readonly T[];
}

/** A request the server refused (status >= 400), with the server's own message. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    const message = typeof body === "object" && body !== null && "message" in body ? String((body as { message: unknown }).message) : JSON.stringify(body);
    super(`${method} ${path}: ${status} ${message}`);
    this.name = "ApiError";
  }
}

export interface ApiCredentials {
  readonly server: string;
  readonly caCert: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/** Warning header values without the `299 - "..."` wrapping. */
function warningTexts(header: string | string[] | undefined): string[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return values.flatMap((v) => [...v.matchAll(/299 - "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\"/g, '"')));
}

export class KubeApi {
  private readonly agent: Agent;

  constructor(readonly credentials: ApiCredentials) {
    this.agent = new Agent({
      ca: readFileSync(credentials.caCert),
      cert: readFileSync(credentials.clientCert),
      key: readFileSync(credentials.clientKey),
      keepAlive: true,
    });
  }

  /** Any request; a status >= 400 is returned, not thrown (see call() for the throwing form). */
  raw<T = unknown>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<ApiResponse<T>> {
    const url = new URL(path, this.credentials.server);
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent: this.agent,
          headers: { Accept: "application/json", ...(payload === undefined ? {} : { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) }) },
          timeout: 30_000,
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => {
            let parsed: unknown = text;
            try {
              parsed = text === "" ? undefined : JSON.parse(text);
            } catch {
              // /readyz and /healthz answer plain text.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T, warnings: warningTexts(res.headers.warning) });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${url.href}: no answer in 30 s`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** A request whose refusal (status >= 400) is an ApiError naming the method, path and server message. */
  async call<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<ApiResponse<T>> {
    const response = await this.raw<T>(method, path, body, contentType);
    if (response.status >= 400) throw new ApiError(method, path, response.status, response.body);
    return response;
  }

  async get<T extends KubeObject = KubeObject>(path: string): Promise<T> {
    return (await this.call<T>("GET", path)).body;
  }

  /** The object at `path`, or undefined when the server answers 404. */
  async find<T extends KubeObject = KubeObject>(path: string): Promise<T | undefined> {
    const response = await this.raw<T>("GET", path);
    if (response.status === 404) return undefined;
    if (response.status >= 400) throw new ApiError("GET", path, response.status, response.body);
    return response.body;
  }

  async list<T extends KubeObject = KubeObject>(path: string): Promise<readonly T[]> {
    return (await this.call<KubeList<T>>("GET", path)).body.items;
  }

  async create<T extends KubeObject = KubeObject>(path: string, object: unknown): Promise<ApiResponse<T>> {
    return this.call<T>("POST", path, object);
  }

  /** A JSON merge patch (RFC 7386): lists are replaced whole, which is what the status updates here want. */
  async mergePatch<T extends KubeObject = KubeObject>(path: string, patch: unknown): Promise<ApiResponse<T>> {
    return this.call<T>("PATCH", path, patch, "application/merge-patch+json");
  }

  /** Deletes the object; a 404 (already gone) is not an error. */
  async remove(path: string, options: { readonly gracePeriodSeconds?: number } = {}): Promise<void> {
    const body = options.gracePeriodSeconds === undefined ? undefined : { kind: "DeleteOptions", apiVersion: "v1", gracePeriodSeconds: options.gracePeriodSeconds };
    const response = await this.raw("DELETE", path, body);
    if (response.status >= 400 && response.status !== 404) throw new ApiError("DELETE", path, response.status, response.body);
  }

  close(): void {
    this.agent.destroy();
  }
}
