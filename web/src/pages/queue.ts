/** Proposing to the owners' queue, as Safe{Wallet} does: the server prepares the EIP-712
 * document, the wallet signs it, the proposal is posted with that first signature, and the page
 * moves to the proposal's link, which co-owners open to sign in their own browsers. */
import { encodeFunctionData, parseUnits, type Hex } from "viem";
import { vaultAbi } from "../abi";
import { api, ok, type Schemas } from "../api";
import { checkDocument } from "../eip712";
import { Status, actionForm, field, h, input } from "../ui";
import { wallet, type TypedDataDocument } from "../wallet";

type Vault = Schemas["VaultDetail"];
type Prepared = { typed_data: TypedDataDocument; nonce: string };

const HOUR = 3600;

function deadlineIn(hours: string): number {
  return Math.floor(Date.now() / 1000) + Math.round(Number(hours) * HOUR);
}

/** Prepare → check the document's types → sign → propose with the signature → the proposal. */
async function propose(
  status: Status,
  primaryType: "Withdrawal" | "ConfigChange",
  prepare: () => Promise<Prepared>,
  submit: (nonce: number, signature: Hex) => Promise<{ digest: string }>,
): Promise<void> {
  wallet.ready();
  status.show("pending", "Preparing the document to sign…");
  const prepared = await prepare();
  checkDocument(prepared.typed_data, primaryType);
  status.show("pending", "Sign it in your wallet…");
  const signature = await wallet.signTypedData(prepared.typed_data);
  const proposal = await submit(Number(prepared.nonce), signature);
  window.location.hash = `#/proposal/${proposal.digest}`;
}

export function proposeWithdrawal(v: Vault): HTMLElement {
  const status = new Status("propose-withdrawal");
  const vault = { path: { vault: v.address } };
  const token = h("select", { name: "token" }, ...v.balances.map((b) => h("option", { value: b.token }, b.symbol ?? b.token)));
  const amount = input("amount", "", { inputmode: "decimal", required: true, placeholder: "250" });
  const to = input("to", wallet.account ?? "", { required: true, spellcheck: "false" });
  const hours = input("deadline", "24", { type: "number", min: 1, max: 720 });
  const withdraw = async () => {
    const decimals = v.balances.find((b) => b.token === token.value)?.decimals ?? 18;
    const body = {
      token: token.value,
      amount: parseUnits(amount.value, decimals).toString(),
      to: to.value,
      deadline: deadlineIn(hours.value),
    };
    await propose(
      status,
      "Withdrawal",
      () => ok(api.POST("/v1/vaults/{vault}/proposals/withdrawals/prepare", { params: vault, body })),
      (nonce, signature) =>
        ok(api.POST("/v1/vaults/{vault}/proposals/withdrawals", {
          params: vault,
          body: { ...body, nonce, proposer: wallet.ready(), signature },
        })),
    );
  };
  return actionForm(
    { id: "withdraw-title", title: "Propose a withdrawal", level: "h3", button: "Sign and propose", status },
    withdraw,
    field("Token", token),
    field("Amount", amount, "In whole tokens."),
    field("Recipient", to),
    field("Valid for (hours)", hours),
  );
}

/** The configuration changes a person asks for most, each one vault function call. */
const CHANGES: Record<string, { label: string; data: (v: Vault) => Hex }> = {
  unpause: { label: "Unpause the vault", data: () => encodeFunctionData({ abi: vaultAbi, functionName: "unpause" }) },
  startCopying: { label: "Start copying again", data: () => encodeFunctionData({ abi: vaultAbi, functionName: "startCopying" }) },
  halveTrades: {
    label: "Halve the trades allowed per day",
    data: (v) =>
      encodeFunctionData({
        abi: vaultAbi,
        functionName: "setPolicy",
        args: [{
          maxFractionBps: v.policy.max_fraction_bps,
          maxSlippageBps: v.policy.max_slippage_bps,
          maxOracleAge: v.policy.max_oracle_age,
          maxTradesPerDay: Math.max(1, Math.floor(v.policy.max_trades_per_day / 2)),
          lossBudgetBps: v.policy.loss_budget_bps,
        }],
      }),
  },
};

export function proposeConfigChange(v: Vault): HTMLElement {
  const status = new Status("propose-config");
  const vault = { path: { vault: v.address } };
  const change = h("select", { name: "change" }, ...Object.entries(CHANGES).map(([key, c]) => h("option", { value: key }, c.label)));
  const hours = input("deadline", "24", { type: "number", min: 1, max: 720 });
  const configure = async () => {
    const body = { data: CHANGES[change.value].data(v), deadline: deadlineIn(hours.value) };
    await propose(
      status,
      "ConfigChange",
      () => ok(api.POST("/v1/vaults/{vault}/proposals/config/prepare", { params: vault, body })),
      (nonce, signature) =>
        ok(api.POST("/v1/vaults/{vault}/proposals/config", {
          params: vault,
          body: { ...body, nonce, proposer: wallet.ready(), signature },
        })),
    );
  };
  return actionForm(
    { id: "config-title", title: "Propose a change", level: "h3", button: "Sign and propose", status },
    configure,
    field("Change", change),
    field("Valid for (hours)", hours),
  );
}
