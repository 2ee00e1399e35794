// Reads the stack config from the Pulumi engine and hands it to the shared validator.

import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseStackConfig, PROJECT, type SecretKey, type StackConfig } from "./stackConfig";

/** The validated config of the running stack; throws ConfigError before any resource is registered. */
export function stackConfigFromPulumi(): StackConfig {
  const prefix = `${PROJECT}:`;
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
  }
  const config = parseStackConfig(pulumi.getStack(), raw);
  // The Kubernetes provider takes KUBECONFIG from the environment as its kubeconfig when none is configured, and
  // then refuses renderYamlToDirectory: say so before any resource is registered.
  if (config.renderYamlToDirectory !== undefined && process.env.KUBECONFIG) {
    throw new ConfigError([
      `${PROJECT}:renderYamlToDirectory is set (GitOps mode), but KUBECONFIG=${process.env.KUBECONFIG} is in the ` +
        "environment, which the Kubernetes provider would read as its kubeconfig and then refuse the mode: unset " +
        "KUBECONFIG for this command (`env -u KUBECONFIG npm run deploy -- --stack <stack>`)",
    ]);
  }
  return config;
}

/** A secret config value (password, kubeconfig) as a secret Output, or undefined when unset. */
export function secretConfig(key: SecretKey): pulumi.Output<string> | undefined {
  return new pulumi.Config(PROJECT).getSecret(key);
}
