/** Follower: the vaults you own, and creating one (owners, threshold, a leader chosen from the
 * list with its record, a policy in readable units with safe defaults, allowlists). */
import { decodeEventLog, encodeFunctionData, toHex, type Address, type Hex } from "viem";
import { factoryAbi } from "../abi";
import { api, ok, type Schemas } from "../api";
import { deployment } from "../deployment";
import { formatUsd, shortAddress } from "../format";
import { policyFieldset, policyInputs, policyValue, type PolicyText } from "../policy";
import { Status, actionForm, field, h, input, table } from "../ui";
import { wallet } from "../wallet";

/** Safe defaults: at most 50 % of a balance per trade, 1 % slippage against the oracle, answers
 * at most an hour old, 10 trades a day, a 2 % daily loss budget. */
const DEFAULT_POLICY: PolicyText = {
  fractionPercent: "50",
  slippagePercent: "1",
  oracleAgeMinutes: "60",
  tradesPerDay: "10",
  lossBudgetPercent: "2",
};

export async function followerPage(main: HTMLElement): Promise<void> {
  main.append(h("h1", {}, "Your vaults"));
  if (!wallet.account) {
    main.append(h("p", {}, "Connect a wallet to see the vaults you own and to create one."));
    return;
  }
  const vaults = await ok(api.GET("/v1/vaults", { params: { query: { owner: wallet.account } } }));
  main.append(vaultList(vaults.items));
  const leaders = await ok(api.GET("/v1/leaders"));
  main.append(createVaultForm(wallet.account, leaders.items));
}

function vaultList(vaults: Schemas["VaultSummary"][]): HTMLElement {
  if (vaults.length === 0) return h("p", {}, "You own no vault yet. Create one below.");
  return table(
    "Vaults you own",
    ["Vault", "Leader", "Owners", "State"],
    vaults.map((v) => [
      h("a", { href: `#/vault/${v.address}` }, shortAddress(v.address)),
      v.leader ? shortAddress(v.leader) : "—",
      `${v.threshold} of ${v.owners.length}`,
      stateText(v.flags),
    ]),
  );
}

export function stateText(flags: Schemas["Flags"]): string {
  if (flags.paused) return "Paused";
  return flags.copying ? "Copying" : "Stopped copying";
}

function createVaultForm(account: Address, leaders: Schemas["LeaderSummary"][]): HTMLElement {
  const d = deployment();
  const status = new Status("create-vault");
  const owners = h("textarea", { id: "owners", name: "owners", rows: 3 }, account);
  const threshold = input("threshold", "1", { type: "number", min: 1, max: 32 });
  const leader = h(
    "select",
    { name: "leader" },
    ...leaders.map((l) =>
      h(
        "option",
        { value: l.address },
        `${shortAddress(l.address)} — ${l.registered ? "registered" : "not registered"}, ` +
          `${l.followers} followers, ${l.vault_count} vaults, ${l.trade_count} trades, AUM ${formatUsd(l.aum.usd)}`,
      ),
    ),
  );
  const policy = policyInputs(DEFAULT_POLICY);
  const assets = d.tokens.map((t) => checkbox(`asset-${t.symbol}`, t.address, `${t.symbol}`));
  const venues = d.venues.map((v, i) => checkbox(`venue-${i}`, v, `Venue ${shortAddress(v)}`));
  const guardian = checkbox("guardian", "yes", "Let the platform guardian pause this vault in an emergency");

  const create = async () => {
    const ownerList = owners.value.split(/[\s,]+/).filter(Boolean) as Address[];
    const args = [
      ownerList,
      BigInt(threshold.value),
      leader.value as Address,
      policyValue(policy),
      await defaultOracle(),
      checked(assets),
      checked(venues),
      guardian.querySelector("input")?.checked ?? false,
      toHex(crypto.getRandomValues(new Uint8Array(32))),
    ];
    const data = encodeFunctionData({ abi: factoryAbi, functionName: "createVault", args });
    const receipt = await wallet.send(status, "Creating the vault", { to: deployment().factory as Address, data });
    const vault = receipt && createdVault(receipt.logs);
    if (vault) window.location.hash = `#/vault/${vault}`;
  };

  return actionForm(
    { id: "create-vault-title", title: "Create a vault", button: "Create vault", status },
    create,
    field("Owners (one address per line)", owners, "Your address is filled in; add co-owners' addresses."),
    field("Signatures needed (threshold)", threshold, "How many owners must approve a withdrawal or a risk-increasing change."),
    field("Leader to copy", leader),
    policyFieldset("Risk policy", policy),
    h("fieldset", {}, h("legend", {}, "Tokens the vault may hold and trade"), ...assets),
    h("fieldset", {}, h("legend", {}, "Venues the vault may trade on"), ...venues),
    guardian,
  );
}

function checkbox(id: string, value: string, label: string, isChecked = true): HTMLElement {
  const box = h("input", { type: "checkbox", id, value, checked: isChecked });
  return h("div", { class: "check" }, box, h("label", { for: id }, label));
}

function checked(boxes: HTMLElement[]): Address[] {
  return boxes
    .map((b) => b.querySelector("input") as HTMLInputElement)
    .filter((b) => b.checked)
    .map((b) => b.value as Address);
}

/** The factory's default oracle, read now: the factory refuses the creation if it changes
 * before the transaction lands (OracleMismatch), so nobody can swap it in front of us. */
async function defaultOracle(): Promise<Address> {
  return (await wallet.reader().readContract({
    address: deployment().factory as Address,
    abi: factoryAbi,
    functionName: "defaultOracle",
  })) as Address;
}

/** The new vault's address from the receipt's VaultCreated log. */
export function createdVault(logs: { data: Hex; topics: [Hex, ...Hex[]] | [] }[]): Address | undefined {
  for (const log of logs) {
    try {
      const event = decodeEventLog({ abi: factoryAbi, ...log });
      if (event.eventName === "VaultCreated") return (event.args as unknown as { vault: Address }).vault;
    } catch {
      // another contract's log
    }
  }
  return undefined;
}
