/** Where copyvault lives on chain, as the server knows it: the chain id (from /v1/health) and the
 * deployed contracts and tokens (from the auditor's contract list). Loaded once at start. */
import type { Address } from "viem";
import { api, ok } from "./api";

export interface TokenInfo {
  address: Address;
  symbol: string;
  decimals: number;
}

export interface Deployment {
  chainId: number;
  factory?: Address;
  registry?: Address;
  venues: Address[];
  tokens: TokenInfo[];
}

let loaded: Deployment | undefined;

export async function loadDeployment(): Promise<Deployment> {
  const health = await ok(api.GET("/v1/health"));
  loaded = { chainId: health.chain.chain_id, venues: [], tokens: [] };
  return loaded;
}

export function deployment(): Deployment {
  if (!loaded) throw new Error("the deployment is not loaded yet");
  return loaded;
}

export function tokenInfo(address: string): TokenInfo | undefined {
  return deployment().tokens.find((t) => t.address.toLowerCase() === address.toLowerCase());
}
