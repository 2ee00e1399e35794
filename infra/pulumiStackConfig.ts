// Reads the stack config from the Pulumi engine and hands it to the shared validator.

import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, PROJECT, type SecretKey, type StackConfig } from "./stackConfig";

/** The validated config of the running stack; throws ConfigError before any resource is registered. */
export function stackConfigFromPulumi(): StackConfig {
  const prefix = `${PROJECT}:`;
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
  }
  return parseStackConfig(pulumi.getStack(), raw);
}

/** A secret config value (password, kubeconfig) as a secret Output, or undefined when unset. */
export function secretConfig(key: SecretKey): pulumi.Output<string> | undefined {
  return new pulumi.Config(PROJECT).getSecret(key);
}
