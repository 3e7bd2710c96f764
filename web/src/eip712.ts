/** copyvault's EIP-712 types, imported from the one file the Python side writes and uses
 * (backend/chain/eip712_types.json). Before the wallet signs a document the server prepared, the
 * page checks it is one of ours: the right primary type, exactly our member types, our domain
 * name and version, this deployment's chain. A server that sent anything else is refused. */
import { hashTypedData, type Hex, type TypedDataDefinition } from "viem";
import types from "../../backend/chain/eip712_types.json";
import { UnexpectedDocument } from "./errors";
import { wallet, type TypedDataDocument } from "./wallet";

export type PrimaryType = "TradeIntent" | "Withdrawal" | "ConfigChange";

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function checkDocument(document: TypedDataDocument, primaryType: PrimaryType): void {
  const doc = document as {
    primaryType?: string;
    types?: Record<string, unknown>;
    domain?: { name?: string; version?: string; chainId?: number };
  };
  const problems = [
    doc.primaryType !== primaryType && `it is a ${doc.primaryType}, not a ${primaryType}`,
    !same(doc.types?.[primaryType], types.types[primaryType]) && `its ${primaryType} members differ from copyvault's`,
    !same(doc.types?.EIP712Domain, types.types.EIP712Domain) && "its domain members differ",
    (doc.domain?.name !== types.domain.name || doc.domain?.version !== types.domain.version) && "it names another domain",
    Number(doc.domain?.chainId) !== wallet.expectedChain && `it is for chain ${doc.domain?.chainId}`,
  ].filter(Boolean);
  if (problems.length) throw new UnexpectedDocument(`The document to sign is not what it should be: ${problems.join("; ")}. Nothing was signed.`);
}

/** A digest signed without its document (a Safe owner signs the Safe's message over it) must be
 * the hash of the document the page checked: else the server asks for something else. */
export function checkDigest(document: TypedDataDocument, digest: Hex): void {
  if (hashTypedData(document as unknown as TypedDataDefinition).toLowerCase() !== digest.toLowerCase()) {
    throw new UnexpectedDocument("The proposal's digest is not the hash of its document. Nothing was signed.");
  }
}
