/** One proposal, at a link owners share: what it does, who signed, sign it (an owner who has
 * not), execute it once the threshold is met (anyone), and watch it until it is executed. */
import type { Address, Hex } from "viem";
import { api, ok, type Schemas } from "../api";
import { checkDigest, checkDocument } from "../eip712";
import { describe } from "../errors";
import { formatAmount, formatTime, shortAddress } from "../format";
import { safeMessage, safeOwnedByMe, safeSignature, type SafeOwner } from "../safe";
import { Status, h, refresh, table } from "../ui";
import { wallet } from "../wallet";

type Proposal = Schemas["ProposalOut"];

const EXECUTION_WAIT_MS = 30_000;

const primaryTypeOf = (p: Proposal) => (p.kind === "withdrawal" ? "Withdrawal" : "ConfigChange");

export async function proposalPage(main: HTMLElement, digest: string): Promise<void> {
  const proposal = await ok(api.GET("/v1/proposals/{digest}", { params: { path: { digest } } }));
  const vault = await ok(api.GET("/v1/vaults/{vault}", { params: { path: { vault: proposal.vault } } }));
  const status = new Status("proposal");
  main.append(
    h("h1", {}, proposal.kind === "withdrawal" ? "Withdrawal proposal" : "Configuration change proposal"),
    h("p", {}, "Share this page's link with your co-owners: each opens it, connects and signs."),
    h("p", {}, h("a", { href: `#/vault/${proposal.vault}` }, `Back to vault ${shortAddress(proposal.vault)}`)),
    describeProposal(proposal, vault),
    signatures(proposal),
    buttons(proposal, status),
    (await safeButton(proposal, vault, status)) ?? "",
    status.el,
  );
}

function describeProposal(p: Proposal, v: Schemas["VaultDetail"]): HTMLElement {
  const token = v.balances.find((b) => b.token === p.token);
  const what =
    p.kind === "withdrawal"
      ? `Send ${formatAmount(p.amount ?? "0", token?.decimals ?? 18)} ${token?.symbol ?? p.token} to ${p.to}`
      : `Call ${p.function ?? "a configuration function"} (${p.data})`;
  return h(
    "dl",
    { class: "summary" },
    h("dt", {}, "What"), h("dd", {}, what),
    h("dt", {}, "Status"), h("dd", { "data-field": "proposal-status" }, p.status + (p.status_reason ? ` (${p.status_reason})` : "")),
    h("dt", {}, "Signatures"), h("dd", { "data-field": "signatures" }, `${p.threshold - p.signatures_needed} of ${p.threshold}`),
    h("dt", {}, "Nonce"), h("dd", {}, String(p.nonce)),
    h("dt", {}, "Valid until"), h("dd", {}, formatTime(p.deadline)),
    h("dt", {}, "Digest"), h("dd", {}, h("code", {}, p.digest)),
    p.executed ? h("dt", {}, "Executed") : null,
    p.executed ? h("dd", {}, `in block ${p.executed.block_number} (${p.executed.tx_hash})`) : null,
  );
}

function signatures(p: Proposal): HTMLElement {
  return table(
    "Signatures",
    ["Owner", "Method", "Counts"],
    p.confirmations.map((c) => [c.signer, c.method === "eip1271" ? "contract (EIP-1271)" : "key (ECDSA)", c.is_owner ? "yes" : "no: not an owner any more"]),
  );
}

function buttons(p: Proposal, status: Status): HTMLElement {
  const me = wallet.account?.toLowerCase();
  const signed = p.confirmations.some((c) => c.signer.toLowerCase() === me);
  const open = p.status === "pending" || p.status === "ready";
  return h(
    "p",
    {},
    h("button", { type: "button", disabled: !open || signed || !me, onclick: () => void sign(p, status) }, signed ? "You signed" : "Sign"),
    " ",
    h("button", { type: "button", disabled: p.status !== "ready" || !me, onclick: () => void execute(p, status) }, "Execute"),
  );
}

async function sign(p: Proposal, status: Status): Promise<void> {
  try {
    const signer = wallet.ready();
    checkDocument(p.typed_data, primaryTypeOf(p));
    status.show("pending", "Sign the proposal in your wallet…");
    const signature = await wallet.signTypedData(p.typed_data);
    await ok(api.POST("/v1/proposals/{digest}/signatures", { params: { path: { digest: p.digest } }, body: { signer, signature } }));
    refresh();
  } catch (error) {
    status.show("error", describe(error));
  }
}

/** For a Safe owner: sign for the Safe that owns the vault (and has not signed yet). */
async function safeButton(p: Proposal, v: Schemas["VaultDetail"], status: Status): Promise<HTMLElement | null> {
  const open = p.status === "pending" || p.status === "ready";
  const signed = new Set(p.confirmations.map((c) => c.signer.toLowerCase()));
  const unsigned = v.owners.filter((o) => !signed.has(o.toLowerCase()));
  if (!open || !wallet.account || wallet.wrongNetwork || unsigned.length === 0) return null;
  const safe = await safeOwnedByMe(unsigned);
  if (!safe) return null;
  if (safe.threshold > 1) {
    return h("p", {}, `The Safe ${safe.safe} owns this vault and needs ${safe.threshold} of its owners: collect their signatures of this digest in Safe{Wallet}.`);
  }
  return h("p", {}, h("button", { type: "button", onclick: () => void signForSafe(p, safe, status) }, `Sign for Safe ${shortAddress(safe.safe)}`));
}

/** Sign the Safe's SafeMessage over the proposal digest and submit it as the Safe's (EIP-1271)
 * signature; the server asks the Safe whether it approves before counting it. */
async function signForSafe(p: Proposal, safe: SafeOwner, status: Status): Promise<void> {
  try {
    const owner = wallet.ready();
    checkDocument(p.typed_data, primaryTypeOf(p));
    checkDigest(p.typed_data, p.digest as Hex);
    status.show("pending", `Sign the proposal for the Safe ${shortAddress(safe.safe)} in your wallet…`);
    const signature = await wallet.signTypedData(safeMessage(safe.safe, p.digest as Hex));
    const body = { signer: safe.safe, signature: safeSignature([{ owner, signature }]) };
    await ok(api.POST("/v1/proposals/{digest}/signatures", { params: { path: { digest: p.digest } }, body }));
    refresh();
  } catch (error) {
    status.show("error", describe(error));
  }
}

/** Send the ready call (the vault checks every signature again), then wait for the index. */
async function execute(p: Proposal, status: Status): Promise<void> {
  const call = p.ready_call;
  if (!call) return;
  const receipt = await wallet.send(status, "Executing", { to: call.to as Address, data: call.data as Hex });
  if (!receipt) return;
  const end = Date.now() + EXECUTION_WAIT_MS;
  while (Date.now() < end) {
    const now = await ok(api.GET("/v1/proposals/{digest}", { params: { path: { digest: p.digest } } }));
    if (now.status === "executed") break;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  refresh();
}
