/** A vault: balances and USD value, value over time, mirrored trades with the batch price beside
 * the oracle's, loss budget used, trades today, paused/copying; one-click pause and stop copying;
 * deposits; and the owners' queue of withdrawals and configuration changes. */
import { encodeFunctionData, erc20Abi, parseUnits, type Address } from "viem";
import { vaultAbi } from "../abi";
import { api, ok, ApiFailure, type Schemas } from "../api";
import { valueChart } from "../chart";
import { tokenInfo } from "../deployment";
import { formatAmount, formatPrice, formatTime, formatUsd, shortAddress } from "../format";
import { Status, actionForm, field, h, input, refresh, section, table } from "../ui";
import { wallet } from "../wallet";
import { stateText } from "./follower";
import { proposeWithdrawal, proposeConfigChange } from "./queue";

type Vault = Schemas["VaultDetail"];

/** How long a page waits for the index to show a vault or a change just made on chain. */
const INDEX_WAIT_MS = 30_000;

export async function vaultPage(main: HTMLElement, address: string): Promise<void> {
  const vault = await waitForVault(address);
  main.append(
    h("h1", {}, `Vault ${shortAddress(vault.address)}`),
    summary(vault),
    await chainFigures(vault),
    actions(vault),
    balances(vault),
    await section("chart-title", "Value over time", () => valueChart(vault.address)),
    await trades(vault),
    await queue(vault),
  );
}

/** The vault as indexed; a vault created a moment ago appears once the indexer has seen it. */
export async function waitForVault(address: string, until?: (v: Vault) => boolean): Promise<Vault> {
  const end = Date.now() + INDEX_WAIT_MS;
  for (;;) {
    try {
      const vault = await ok(api.GET("/v1/vaults/{vault}", { params: { path: { vault: address } } }));
      if (!until || until(vault) || Date.now() > end) return vault;
    } catch (error) {
      if (!(error instanceof ApiFailure && error.code === "vault_not_found") || Date.now() > end) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

function summary(v: Vault): HTMLElement {
  const p = v.policy;
  return h(
    "dl",
    { class: "summary" },
    h("dt", {}, "State"), h("dd", { "data-field": "state" }, stateText(v.flags)),
    h("dt", {}, "Value"), h("dd", { "data-field": "value" }, formatUsd(v.value.usd)),
    h("dt", {}, "Leader"), h("dd", {}, v.leader ?? "—"),
    h("dt", {}, "Owners"), h("dd", {}, `${v.threshold} of ${v.owners.length}: ${v.owners.join(", ")}`),
    h("dt", {}, "Policy"),
    h("dd", {},
      `at most ${p.max_fraction_bps / 100} % of a balance per trade; ` +
        `at most ${p.max_slippage_bps / 100} % below the oracle; ` +
        `oracle answers at most ${Math.round(p.max_oracle_age / 60)} min old; ` +
        `${p.max_trades_per_day} trades a day; ` +
        (p.loss_budget_bps ? `loss budget ${p.loss_budget_bps / 100} % a day` : "no loss budget"),
    ),
    h("dt", {}, "Trades"), h("dd", {}, String(v.trade_count)),
  );
}

/** Figures only the chain knows now (they decay with time): loss budget used, trades today. */
async function chainFigures(v: Vault): Promise<HTMLElement> {
  if (!wallet.provider) return h("p", {}, "Connect a wallet to see today's trades and loss budget.");
  const read = (functionName: "lossUsed" | "tradesToday") =>
    wallet.reader().readContract({ address: v.address as Address, abi: vaultAbi, functionName }) as Promise<bigint>;
  const [lossUsed, tradesToday] = await Promise.all([read("lossUsed"), read("tradesToday")]);
  // lossUsed is in millionths of a basis point: 1e6 per bps, 1e8 per percent.
  const usedPercent = Number(lossUsed) / 1e8;
  const budget = v.policy.loss_budget_bps / 100;
  return h(
    "dl",
    { class: "summary" },
    h("dt", {}, "Trades today"), h("dd", { "data-field": "trades-today" }, `${tradesToday} of ${v.policy.max_trades_per_day}`),
    h("dt", {}, "Loss budget used"),
    h("dd", { "data-field": "loss-used" }, budget ? `${usedPercent.toFixed(4)} % of ${budget} %` : "no loss budget"),
  );
}

function actions(v: Vault): HTMLElement {
  const status = new Status("vault-action");
  const isOwner = wallet.account !== undefined && v.owners.some((o) => o.toLowerCase() === wallet.account?.toLowerCase());
  const stop = async (functionName: "pause" | "stopCopying", what: string) => {
    const data = encodeFunctionData({ abi: vaultAbi, functionName });
    if (!(await wallet.send(status, what, { to: v.address as Address, data }))) return;
    const changed = (next: Vault) => (functionName === "pause" ? next.flags.paused : !next.flags.copying);
    await waitForVault(v.address, changed);
    refresh();
  };
  return h(
    "section",
    { "aria-labelledby": "act-title" },
    h("h2", { id: "act-title" }, "Act"),
    isOwner
      ? h("p", {}, "Stopping needs one owner's key, no co-signature.")
      : h("p", {}, "Only an owner can pause or stop copying; anyone can deposit."),
    h("button", { type: "button", disabled: v.flags.paused || !isOwner, onclick: () => void stop("pause", "Pausing the vault") }, "Pause"),
    " ",
    h("button", { type: "button", disabled: !v.flags.copying || !isOwner, onclick: () => void stop("stopCopying", "Stopping copying") }, "Stop copying"),
    status.el,
    depositForm(v),
  );
}

function depositForm(v: Vault): HTMLElement {
  const status = new Status("deposit");
  const known = new Map(v.balances.map((b) => [b.token.toLowerCase(), b]));
  const token = h("select", { name: "token" }, ...v.allowlist.assets.map((a) => h("option", { value: a }, tokenInfo(a)?.symbol ?? a)));
  const amount = input("amount", "", { inputmode: "decimal", required: true, placeholder: "1.5" });
  const deposit = async () => {
    const tokenAddress = token.value as Address;
    const decimals = (await wallet.reader().readContract({ address: tokenAddress, abi: erc20Abi, functionName: "decimals" })) as number;
    const raw = parseUnits(amount.value, decimals);
    const approve = encodeFunctionData({ abi: erc20Abi, functionName: "approve", args: [v.address as Address, raw] });
    if (!(await wallet.send(status, "Approving the vault to take the tokens", { to: tokenAddress, data: approve }))) return;
    const call = encodeFunctionData({ abi: vaultAbi, functionName: "deposit", args: [tokenAddress, raw] });
    if (!(await wallet.send(status, "Depositing", { to: v.address as Address, data: call }))) return;
    const before = BigInt(known.get(tokenAddress.toLowerCase())?.deposited ?? "0");
    await waitForVault(v.address, (next) => next.balances.some((b) => b.token === tokenAddress && BigInt(b.deposited) > before));
    refresh();
  };
  return actionForm(
    { id: "deposit-title", title: "Deposit", level: "h3", button: "Approve and deposit", status },
    deposit,
    field("Token", token),
    field("Amount", amount, "In whole tokens; your wallet approves, then deposits."),
  );
}

function balances(v: Vault): HTMLElement {
  return table(
    "Balances (as accounted by the vault's events)",
    ["Token", "Balance", "Deposited", "Withdrawn"],
    v.balances.map((b) => {
      const d = b.decimals ?? 18;
      return [b.symbol ?? b.token, formatAmount(b.balance, d), formatAmount(b.deposited, d), formatAmount(b.withdrawn, d)];
    }),
  );
}

/** Every trade mirrored into the vault, the batch's price beside the oracle's then and the
 * least price the leader signed. */
async function trades(v: Vault): Promise<HTMLElement> {
  const page = await ok(api.GET("/v1/vaults/{vault}/trades", { params: { path: { vault: v.address }, query: { limit: 200 } } }));
  const token = (address: string) => tokenInfo(address) ?? { symbol: shortAddress(address), decimals: 18 };
  const rows = page.items.map((t) => {
    const [tin, tout] = [token(t.token_in), token(t.token_out)];
    const price = (scaled: string | null | undefined) =>
      scaled === null || scaled === undefined ? "—" : `${formatPrice(BigInt(scaled), tin.decimals, tout.decimals)} ${tout.symbol} per ${tin.symbol}`;
    return [
      formatTime(t.block_timestamp),
      `${formatAmount(t.amount_in, tin.decimals)} ${tin.symbol} → ${formatAmount(t.amount_out, tout.decimals)} ${tout.symbol}`,
      h("span", { "data-field": "batch-price" }, price(t.price)),
      price(t.oracle_price),
      price(t.leader_min_price),
    ];
  });
  const out = h("section", { "aria-labelledby": "trades-title" }, h("h2", { id: "trades-title" }, "Mirrored trades"));
  out.append(
    rows.length
      ? table("Every trade mirrored into this vault, newest first", ["When", "Trade", "Batch price", "Oracle price", "Leader's least price"], rows)
      : h("p", {}, "No trade mirrored yet."),
  );
  return out;
}

async function queue(v: Vault): Promise<HTMLElement> {
  const page = await ok(api.GET("/v1/vaults/{vault}/proposals", { params: { path: { vault: v.address } } }));
  const rows = page.items.map((p) => [
    h("a", { href: `#/proposal/${p.digest}` }, p.kind === "withdrawal" ? "Withdrawal" : `Change: ${p.function ?? "config"}`),
    String(p.nonce),
    p.status,
    `${p.confirmations.filter((c) => c.is_owner).length} of ${p.threshold}`,
  ]);
  return h(
    "section",
    { "aria-labelledby": "queue-title" },
    h("h2", { id: "queue-title" }, "Queue: withdrawals and changes"),
    h("p", {}, `Each needs ${v.threshold} of the ${v.owners.length} owners' signatures; then anyone can execute it.`),
    rows.length ? table("Proposals, newest first", ["Proposal", "Nonce", "Status", "Signatures"], rows) : h("p", {}, "Nothing queued."),
    proposeWithdrawal(v),
    proposeConfigChange(v),
  );
}
