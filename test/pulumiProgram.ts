// Runs index.ts under the Pulumi SDK's own mocks (no engine, no cluster) and records every resource
// registration with its inputs and options. One stack per test file: index.ts runs once per module load.

import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../infra/stackConfig";
import { readStackFileValues } from "../cli/stackFile";

export interface Registration {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly protect: boolean;
  readonly dependsOn: string[];
  readonly parentName?: string;
}

export interface ProgramRun {
  readonly resources: Registration[];
  readonly outputs: Record<string, unknown>;
  byType(type: string): Registration[];
  one(type: string, name: string): Registration;
}

const nameOf = (r: unknown): string => (r as { __name?: string }).__name ?? "?";

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
              ? { base64: Buffer.from(`bytes-of-${args.name}`).toString("base64") }
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
  for (const [key, value] of Object.entries(program)) {
    outputs[key] = pulumi.Output.isInstance(value) ? await new Promise((r) => value.apply(r)) : value;
  }
  // Let registrations that wait on outputs (secrets, dynamic resources) reach the mocks.
  await new Promise((r) => setTimeout(r, 200));
  const resources = options.map((o) => ({ ...o, inputs: states.find((s) => s.type === o.type && s.name === o.name)?.inputs ?? {} }));
  return {
    resources,
    outputs,
    byType: (type) => resources.filter((r) => r.type === type),
    one: (type, name) => {
      const found = resources.find((r) => r.type === type && r.name === name);
      if (!found) throw new Error(`no ${type} named ${name}; registered: ${resources.map((r) => `${r.type}/${r.name}`).join(", ")}`);
      return found;
    },
  };
}
