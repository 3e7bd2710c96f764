/** The contracts' ABIs, dumped from the compiled artifacts (scripts/web_schema.py writes
 * web/abi.json; a test fails when it is stale). ERC-20 calls use viem's standard erc20Abi. */
import type { Abi } from "viem";
import abis from "../abi.json";

export const factoryAbi = abis.VaultFactory as Abi;
export const vaultAbi = abis.CopyVault as Abi;
export const registryAbi = abis.LeaderRegistry as Abi;
