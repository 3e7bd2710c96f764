/** One proposal, at a link owners share: what it does, who signed, sign it (an owner who has
 * not), execute it once the threshold is met (anyone), and watch it until it is executed. */
import type { Address, Hex } from "viem";
import { api, ok, type Schemas } from "../api";
import { checkDigest, checkDocument } from "../eip712";
import { describe } from "../errors";
import { formatAmount, formatTime, shortAddress } from "../format";
import { pastedSignatures, safeMessage, safeOwnedByMe, safeSignature, type SafeOwner } from "../safe";
import { Status, field, h, refresh, table } from "../ui";
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

/** For a Safe owner: sign for the Safe that owns the vault (and has not signed yet). A Safe
 * needing more than one owner gets its other owners' signatures pasted (each signs here too and
 * shares what the page shows). */
async function safeButton(p: Proposal, v: Schemas["VaultDetail"], status: Status): Promise<HTMLElement | null> {
  const open = p.status === "pending" || p.status === "ready";
  const signed = new Set(p.confirmations.map((c) => c.signer.toLowerCase()));
  const unsigned = v.owners.filter((o) => !signed.has(o.toLowerCase()));
  if (!open || !wallet.account || wallet.wrongNetwork || unsigned.length === 0) return null;
  const safe = await safeOwnedByMe(unsigned);
  if (!safe) return null;
  const others = h("textarea", { name: "safe-signatures", rows: 3 });
  const mine = h("output", { "data-field": "safe-signature" });
  const title = `Sign for the Safe ${shortAddress(safe.safe)}`;
  return h(
    "section",
    { "aria-labelledby": "safe-title" },
    h("h2", { id: "safe-title" }, title),
    h("p", {}, `The Safe ${safe.safe} owns this vault; it approves with ${safe.threshold} of its ${safe.owners.length} owners' signatures.`),
    safe.threshold > 1 ? field("Signatures of the Safe's other owners (one per line)", others, "Each owner signs on this page and sends you what it shows.") : null,
    h("p", {}, h("button", { type: "button", onclick: () => void signForSafe(p, safe, others.value, mine, status) }, `Sign for Safe ${shortAddress(safe.safe)}`)),
    mine,
  );
}

/** Sign the Safe's SafeMessage over the proposal digest; with enough owners' signatures, submit
 * them as the Safe's (EIP-1271) signature (the server asks the Safe before counting it), else
 * show this owner's signature to pass on. */
async function signForSafe(p: Proposal, safe: SafeOwner, pasted: string, mine: HTMLElement, status: Status): Promise<void> {
  try {
    const owner = wallet.ready();
    checkDocument(p.typed_data, primaryTypeOf(p));
    checkDigest(p.typed_data, p.digest as Hex);
    const others = await pastedSignatures(safe, p.digest as Hex, owner, pasted);
    status.show("pending", `Sign the proposal for the Safe ${shortAddress(safe.safe)} in your wallet…`);
    const signature = await wallet.signTypedData(safeMessage(safe.safe, p.digest as Hex));
    const all = [...others, { owner, signature }];
    if (all.length < safe.threshold) {
      mine.replaceChildren("Your signature for the Safe: ", h("code", {}, signature));
      status.show("info", `Signed: ${all.length} of the Safe's ${safe.threshold} signatures. Send yours to another owner of the Safe.`);
      return;
    }
    const body = { signer: safe.safe, signature: safeSignature(all) };
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
