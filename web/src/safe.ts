/** A Safe (1.4.1) as a vault owner, approving a proposal through EIP-1271: the vault asks the
 * Safe `isValidSignature(digest, signature)`, which its CompatibilityFallbackHandler answers by
 * checking the Safe owners' signatures of the Safe's own EIP-712 `SafeMessage(bytes message)`
 * with `message = abi.encode(digest)` on the Safe's domain (chain id + the Safe's address). */
import { concat, isHex, parseAbi, recoverTypedDataAddress, type Address, type Hex } from "viem";
import { BadSafeSignatures } from "./errors";
import { wallet, type TypedDataDocument } from "./wallet";

// The two reads of the Safe's own interface the page needs (Safe is not one of our contracts,
// so its ABI is not in web/abi.json).
const SAFE_ABI = parseAbi([
  "function getOwners() view returns (address[])",
  "function getThreshold() view returns (uint256)",
]);

export interface SafeOwner {
  safe: Address;
  owners: Address[];
  threshold: number;
}

/** The Safe among `candidates` (contract owners of a vault) that the connected account co-owns,
 * or undefined. A contract that does not answer like a Safe is skipped. */
export async function safeOwnedByMe(candidates: string[]): Promise<SafeOwner | undefined> {
  const me = wallet.account?.toLowerCase();
  if (!me) return undefined;
  const reader = wallet.reader();
  for (const candidate of candidates) {
    const safe = candidate as Address;
    const code = await reader.getCode({ address: safe });
    if (!code || code === "0x") continue;
    try {
      const owners = await reader.readContract({ address: safe, abi: SAFE_ABI, functionName: "getOwners" });
      const threshold = await reader.readContract({ address: safe, abi: SAFE_ABI, functionName: "getThreshold" });
      if (owners.some((o) => o.toLowerCase() === me)) return { safe, owners: [...owners], threshold: Number(threshold) };
    } catch {
      // Not a Safe (another contract wallet): its owners sign in their own wallet app.
    }
  }
  return undefined;
}

const SAFE_MESSAGE_TYPES = { SafeMessage: [{ name: "message", type: "bytes" }] } as const;

/** The Safe's EIP-712 document over a 32-byte digest, as its fallback handler hashes it
 * (Safe 1.4.1's domain has no name or version). */
export function safeMessage(safe: Address, digest: Hex): TypedDataDocument {
  return {
    domain: { chainId: wallet.expectedChain, verifyingContract: safe },
    types: {
      EIP712Domain: [
        { name: "chainId", type: "uint256" },
        { name: "verifyingContract", type: "address" },
      ],
      ...SAFE_MESSAGE_TYPES,
    },
    primaryType: "SafeMessage",
    message: { message: digest },
  };
}

/** The other Safe owners' signatures a person pasted (one per line), each recovered to its
 * signer: refused unless every one is a distinct owner of the Safe other than `me`. */
export async function pastedSignatures(
  safe: SafeOwner,
  digest: Hex,
  me: Address,
  text: string,
): Promise<{ owner: Address; signature: Hex }[]> {
  const lines = text.split(/\s+/).filter(Boolean);
  const found = new Map<string, { owner: Address; signature: Hex }>();
  for (const line of lines) {
    if (!isHex(line) || line.length !== 132) throw new BadSafeSignatures(`"${line.slice(0, 12)}…" is not a 65-byte signature (0x and 130 hex digits).`);
    const owner = await recoverTypedDataAddress({
      domain: { chainId: wallet.expectedChain, verifyingContract: safe.safe },
      types: SAFE_MESSAGE_TYPES,
      primaryType: "SafeMessage",
      message: { message: digest },
      signature: line,
    }).catch(() => {
      throw new BadSafeSignatures(`"${line.slice(0, 12)}…" is not a valid signature.`);
    });
    if (!safe.owners.some((o) => o.toLowerCase() === owner.toLowerCase())) {
      throw new BadSafeSignatures(`A signature is by ${owner}, who is not an owner of the Safe ${safe.safe} (or it signed another proposal).`);
    }
    if (owner.toLowerCase() === me.toLowerCase()) throw new BadSafeSignatures("One of the signatures is your own: paste only the other owners' signatures.");
    if (found.has(owner.toLowerCase())) throw new BadSafeSignatures(`The Safe owner ${owner} signed twice: give each owner's signature once.`);
    found.set(owner.toLowerCase(), { owner, signature: line });
  }
  return [...found.values()];
}

/** The Safe's signature: its owners' 65-byte signatures, in ascending owner order (the order
 * `checkSignatures` requires). */
export function safeSignature(signatures: { owner: Address; signature: Hex }[]): Hex {
  const ordered = [...signatures].sort((a, b) => (BigInt(a.owner) < BigInt(b.owner) ? -1 : 1));
  return concat(ordered.map((s) => s.signature));
}
