// The module the provider host loads for every Stream and Consumer (streams/provider/resources.ts): its path,
// PROVIDER_MODULE, is written into each resource's state, so resources created by any earlier run load it to
// update, refresh and delete. Keep this file here; if the providers move, only its re-exports change.

export { streamProvider } from "./stream";
export { consumerProvider } from "./consumer";
export { storageGuardProvider } from "../../infra/storageGuard";
