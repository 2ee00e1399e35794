// Runs index.ts under the Pulumi SDK's own mocks (no engine, no cluster) and records every resource
// registration with its inputs and options. One stack per test file: index.ts runs once per module load.

import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { PROJECT } from "../infra/stackConfig";
import { readStackFileValues } from "../infra/stackFile";

export interface Registration {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly protect: boolean;
  readonly dependsOn: string[];
  readonly parentName?: string;
  /** The URN the engine gives it: parent types (without the stack) joined by `$`, then the name. */
  readonly urn: string;
}

export interface ProgramRun {
  readonly resources: Registration[];
  readonly outputs: Record<string, unknown>;
  /** The stack outputs that are Pulumi secrets (encrypted in state, `[secret]` in `pulumi stack output`). */
  readonly secretOutputs: string[];
  byType(type: string): Registration[];
  one(type: string, name: string): Registration;
}

/** What the mocks return for a RandomBytes of `length` bytes: fixed per resource name, so tests can derive from it. */
export function mockRandomBytes(name: string, length: number): Buffer {
  return createHash("sha512").update(`bytes-of-${name}`).digest().subarray(0, length);
}

const nameOf = (r: unknown): string => (r as { __name?: string }).__name ?? "?";

interface ResourceInternals {
  readonly __pulumiType?: string;
  readonly __parentResource?: ResourceInternals;
}

/** The engine's qualified type: every ancestor's type except the root stack's, then the resource's own. */
function qualifiedType(type: string, parent: unknown): string {
  const chain = [type];
  for (let p = parent as ResourceInternals | undefined; p; p = p.__parentResource) {
    if (p.__pulumiType && p.__pulumiType !== "pulumi:pulumi:Stack") chain.unshift(p.__pulumiType);
  }
  return chain.join("$");
}

/** Loads the stack file, sets it as the engine config, imports index.ts and waits for every registration. */
export async function runProgram(stack: string, overrides: Record<string, unknown> = {}): Promise<ProgramRun> {
  const options: Registration[] = [];
  const states: Array<{ type: string; name: string; inputs: Record<string, unknown> }> = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        states.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
        const computed =
          args.type === "random:index/randomPassword:RandomPassword"
            ? { result: `generated-${args.name}` }
            : args.type === "random:index/randomBytes:RandomBytes"
              ? { base64: mockRandomBytes(args.name, Number(args.inputs.length)).toString("base64") }
              : {};
        return { id: `${args.name}-id`, state: { ...args.inputs, ...computed } };
      },
      call: (args) => args.inputs,
    },
    PROJECT,
    stack,
    false,
  );
  const values = { ...readStackFileValues(stack), ...overrides };
  pulumi.runtime.setAllConfig(
    Object.fromEntries(
      Object.entries(values).map(([k, v]) => [`${PROJECT}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
    ),
  );
  // Transformations see the resource options the mocks do not (protect, dependsOn, parent); they need the
  // root stack resource, so the program runs inside one, as under the engine.
  const record = (t: pulumi.ResourceTransformationArgs): undefined => {
    const deps = t.opts.dependsOn;
    const list = Array.isArray(deps) ? deps : deps ? [deps] : [];
    options.push({
      type: t.type,
      name: t.name,
      inputs: {},
      protect: t.opts.protect === true,
      dependsOn: list.map(nameOf),
      parentName: t.opts.parent ? nameOf(t.opts.parent) : undefined,
      urn: `urn:pulumi:${stack}::${PROJECT}::${qualifiedType(t.type, t.opts.parent)}::${t.name}`,
    });
    return undefined;
  };
  let program: Record<string, unknown> = {};
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation(record);
    program = (await import("../index")) as Record<string, unknown>;
    return undefined;
  });
  const outputs: Record<string, unknown> = {};
  const secretOutputs: string[] = [];
  for (const [key, value] of Object.entries(program)) {
    outputs[key] = pulumi.Output.isInstance(value) ? await new Promise((r) => value.apply(r)) : value;
    if (pulumi.Output.isInstance(value) && (await (value as unknown as { isSecret: Promise<boolean> }).isSecret)) secretOutputs.push(key);
  }
  // Let registrations that wait on outputs (secrets, dynamic resources) reach the mocks.
  await new Promise((r) => setTimeout(r, 200));
  const resources = options.map((o) => ({ ...o, inputs: states.find((s) => s.type === o.type && s.name === o.name)?.inputs ?? {} }));
  return {
    resources,
    outputs,
    secretOutputs,
    byType: (type) => resources.filter((r) => r.type === type),
    one: (type, name) => {
      const found = resources.find((r) => r.type === type && r.name === name);
      if (!found) throw new Error(`no ${type} named ${name}; registered: ${resources.map((r) => `${r.type}/${r.name}`).join(", ")}`);
      return found;
    },
  };
}

/**
 * Every URN the stack registers with stream management on (natsUrl set), sorted: a changed URN makes the
 * engine replace a live resource, so moving code must leave this list as it is.
 */
export async function programUrns(stack: string, expectedDynamic: number, overrides: Record<string, unknown> = {}): Promise<string[]> {
  const run = await runProgram(stack, { natsUrl: "nats://127.0.0.1:4222", provisionerPassword: "not-a-real-password", ...overrides });
  // Dynamic resources register only after their provider is serialized.
  const dynamic = () => run.resources.filter((r) => /^pulumi-nodejs:dynamic\/fluo-queue:(Stream|Consumer)$/.test(r.type)).length;
  for (let i = 0; i < 100 && dynamic() < expectedDynamic; i++) await new Promise((r) => setTimeout(r, 100));
  return run.resources.map((r) => r.urn).sort();
}
