/** Where copyvault lives on chain, as the server knows it (GET /v1/deployment): the chain, the
 * factory vaults are created with, the registry leaders sign for, venues and tokens. Loaded once
 * at start. */
import { api, ok, type Schemas } from "./api";

export type Deployment = Schemas["DeploymentOut"];
export type TokenInfo = Schemas["TokenOut"];

let loaded: Deployment | undefined;

export async function loadDeployment(): Promise<Deployment> {
  loaded = await ok(api.GET("/v1/deployment"));
  return loaded;
}

export function deployment(): Deployment {
  if (!loaded) throw new Error("the deployment is not loaded yet");
  return loaded;
}

export function tokenInfo(address: string): TokenInfo | undefined {
  return deployment().tokens.find((t) => t.address.toLowerCase() === address.toLowerCase());
}
