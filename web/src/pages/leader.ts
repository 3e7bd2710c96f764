/** Leader: your record, registering, signing an intent from a form (the wallet shows its EIP-712
 * fields), each intent's per-vault outcomes arriving live over the server's event stream,
 * delegates with expiry, cancelling nonces, and the vaults following you. */
import { encodeFunctionData, type Address, type Hex } from "viem";
import { registryAbi } from "../abi";
import { api, indexedThrough, ok, ApiFailure, type Schemas } from "../api";
import { deployment, tokenInfo } from "../deployment";
import { checkDocument } from "../eip712";
import { describe } from "../errors";
import { formatAmount, formatPrice, formatTime, formatUsd, shortAddress } from "../format";
import { Status, actionForm, field, h, input, refresh, replace, table } from "../ui";
import { wallet } from "../wallet";
import { stateText } from "./follower";

type Leader = Schemas["LeaderDetail"];

export async function leaderPage(main: HTMLElement): Promise<void> {
  main.append(h("h1", {}, "Leader"));
  if (!wallet.account) {
    main.append(h("p", {}, "Connect the wallet you lead with to register, sign intents and manage delegates."));
    return;
  }
  const me = wallet.account;
  const record = await leaderRecord(me);
  main.append(recordSection(record));
  if (!record?.registered) main.append(registerForm());
  main.append(intentForm(me), delegatesSection(record), cancelNonceForm(), await followersSection(me));
}

async function leaderRecord(address: Address): Promise<Leader | undefined> {
  try {
    return await ok(api.GET("/v1/leaders/{leader}", { params: { path: { leader: address } } }));
  } catch (error) {
    if (error instanceof ApiFailure && error.code === "leader_not_found") return undefined;
    throw error;
  }
}

function recordSection(record: Leader | undefined): HTMLElement {
  if (!record) return h("p", {}, "This address is not a leader yet: register below.");
  return h(
    "dl",
    { class: "summary" },
    h("dt", {}, "Registered"), h("dd", {}, record.registered ? `yes (block ${record.registered_block})` : "no"),
    h("dt", {}, "Profile"), h("dd", {}, record.profile_uri ?? "—"),
    h("dt", {}, "Followers"), h("dd", {}, `${record.followers} owners, ${record.vault_count} vaults`),
    h("dt", {}, "Assets following"), h("dd", {}, formatUsd(record.aum.usd)),
    h("dt", {}, "Trades mirrored"), h("dd", {}, String(record.trade_count)),
  );
}

/** A registry transaction; once confirmed, the index has it too (so a redraw shows it). */
async function registryCall(status: Status, what: string, data: Hex) {
  const receipt = await wallet.send(status, what, { to: deployment().registry as Address, data });
  if (receipt) await indexedThrough(receipt.blockNumber);
  return receipt;
}

function registerForm(): HTMLElement {
  const status = new Status("register");
  const uri = input("profile", "", { placeholder: "ipfs://… or https://…" });
  const register = async () => {
    const data = encodeFunctionData({ abi: registryAbi, functionName: "register", args: [uri.value] });
    if (await registryCall(status, "Registering", data)) refresh();
  };
  return actionForm(
    { id: "register-title", title: "Register as a leader", button: "Register", status },
    register,
    field("Profile link", uri, "Where followers read about your strategy."),
  );
}

function tokenSelect(name: string, selected: number): HTMLSelectElement {
  return h("select", { name }, ...deployment().tokens.map((t, i) => h("option", { value: t.address, selected: i === selected }, t.symbol)));
}

function intentForm(leader: Address): HTMLElement {
  const status = new Status("intent");
  const outcomes = h("div", { "data-field": "outcomes", "aria-live": "polite" });
  const tokenIn = tokenSelect("token_in", 0);
  const tokenOut = tokenSelect("token_out", 1);
  const venue = h("select", { name: "venue" }, ...deployment().venues.map((v) => h("option", { value: v }, `Venue ${shortAddress(v)}`)));
  const fraction = input("fraction", "10", { type: "number", min: 0.01, max: 100, step: 0.01 });
  const minutes = input("deadline", "30", { type: "number", min: 2, max: 10080 });
  const signIntent = async () => {
    wallet.ready();
    const body = {
      leader,
      venue: venue.value,
      token_in: tokenIn.value,
      token_out: tokenOut.value,
      fraction_bps: Math.round(Number(fraction.value) * 100),
      min_price: "0",
      nonce: randomNonce(),
      deadline: Math.floor(Date.now() / 1000) + Math.round(Number(minutes.value) * 60),
    };
    status.show("pending", "Preparing the intent to sign…");
    const prepared = await ok(api.POST("/v1/intents/prepare", { body }));
    checkDocument(prepared.typed_data, "TradeIntent");
    status.show("pending", "Sign the intent in your wallet…");
    const signature = await wallet.signTypedData(prepared.typed_data);
    const accepted = await ok(api.POST("/v1/intents", { body: { ...body, signature } }));
    status.show("ok", `Intent accepted (${accepted.digest.slice(0, 10)}…): outcomes arrive below as vaults mirror it.`);
    followOutcomes(accepted.digest, leader, outcomes);
  };
  const form = actionForm(
    { id: "intent-title", title: "Sign a trade intent", button: "Sign and submit", status },
    signIntent,
    field("Sell", tokenIn),
    field("Buy", tokenOut),
    field("Venue", venue),
    field("Share of each follower's balance to sell (%)", fraction),
    field("Valid for (minutes)", minutes),
  );
  form.append(outcomes);
  return form;
}

/** Intent nonces are unordered (a bitmap in the registry): any unused one will do, and a random
 * 64-bit number is practically never used twice. */
function randomNonce(): string {
  const [high, low] = crypto.getRandomValues(new Uint32Array(2));
  return ((BigInt(high) << 32n) | BigInt(low)).toString();
}

/** Redraw the intent's per-vault outcomes on every stream event naming this leader, until every
 * vault has an outcome (the stream says something happened; the intent's status says what). */
function followOutcomes(digest: string, leader: Address, into: HTMLElement): void {
  const stream = new EventSource(`/v1/stream?leader=${leader}`);
  const redraw = async () => {
    const intent = await ok(api.GET("/v1/intents/{digest}", { params: { path: { digest } } }));
    replace(into, outcomeTable(intent));
    if (intent.status === "done" || intent.status === "rejected") stream.close();
  };
  stream.addEventListener("indexed", () => void redraw().catch(() => undefined));
  void redraw();
}

function outcomeTable(intent: Schemas["IntentStatusOut"]): HTMLElement {
  const din = tokenInfo(intent.token_in)?.decimals ?? 18;
  const dout = tokenInfo(intent.token_out)?.decimals ?? 18;
  return table(
    `Intent ${intent.digest.slice(0, 10)}…: ${intent.status}`,
    ["Vault", "Outcome", "Sold", "Bought", "Price"],
    intent.vaults.map((o) => [
      shortAddress(o.vault),
      o.status + (o.reason ? ` (${o.reason})` : ""),
      o.amount_in ? formatAmount(o.amount_in, din) : "—",
      o.amount_out ? formatAmount(o.amount_out, dout) : "—",
      o.price ? formatPrice(BigInt(o.price), din, dout) : "—",
    ]),
  );
}

function delegatesSection(record: Leader | undefined): HTMLElement {
  const status = new Status("delegates");
  const delegate = input("delegate", "", { required: true, spellcheck: "false", placeholder: "0x…" });
  const days = input("expiry", "30", { type: "number", min: 1, max: 3650 });
  const send = async (what: string, data: Hex) => {
    if (await registryCall(status, what, data)) refresh();
  };
  const appoint = async () => {
    const expiry = BigInt(Math.floor(Date.now() / 1000) + Number(days.value) * 86400);
    await send("Appointing the delegate", encodeFunctionData({ abi: registryAbi, functionName: "setDelegate", args: [delegate.value as Address, expiry] }));
  };
  const revoke = (who: Address) => () =>
    void send("Revoking the delegate", encodeFunctionData({ abi: registryAbi, functionName: "revokeDelegate", args: [who] })).catch(
      (error) => status.show("error", describe(error)),
    );
  const rows = (record?.delegates ?? []).map((d) => [
    d.delegate,
    formatTime(d.expiry),
    h("button", { type: "button", onclick: revoke(d.delegate as Address) }, `Revoke ${shortAddress(d.delegate)}`),
  ]);
  return actionForm(
    { id: "delegates-title", title: "Delegates", button: "Appoint", status },
    appoint,
    h("p", {}, "A delegate may sign intents for you until its expiry."),
    rows.length ? table("Live delegates", ["Delegate", "Until", ""], rows) : h("p", {}, "No live delegate."),
    field("Delegate address", delegate),
    field("Valid for (days)", days),
  );
}

/** Intent nonces are a bitmap (as Permit2's): cancelling nonce n sets bit n % 256 of word n / 256. */
function cancelNonceForm(): HTMLElement {
  const status = new Status("cancel-nonce");
  const nonce = input("nonce", "", { type: "number", min: 0, required: true });
  const cancel = async () => {
    const n = BigInt(nonce.value);
    const data = encodeFunctionData({ abi: registryAbi, functionName: "invalidateNonces", args: [n >> 8n, 1n << (n & 255n)] });
    await registryCall(status, `Cancelling nonce ${n}`, data);
  };
  return actionForm(
    { id: "cancel-title", title: "Cancel an intent nonce", button: "Cancel nonce", status },
    cancel,
    field("Nonce", nonce, "An intent signed with this nonce can then never execute."),
  );
}

async function followersSection(leader: Address): Promise<HTMLElement> {
  const page = await ok(api.GET("/v1/vaults", { params: { query: { leader } } }));
  return h(
    "section",
    { "aria-labelledby": "followers-title" },
    h("h2", { id: "followers-title" }, "Vaults following you"),
    page.items.length
      ? table("Followers", ["Vault", "Owners", "State", "Since"], page.items.map((v) => [
          h("a", { href: `#/vault/${v.address}` }, shortAddress(v.address)),
          `${v.threshold} of ${v.owners.length}`,
          stateText(v.flags),
          formatTime(v.created_at),
        ]))
      : h("p", {}, "No vault follows you yet."),
  );
}
