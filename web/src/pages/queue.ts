/** Proposing to the owners' queue, as Safe{Wallet} does: the server prepares the EIP-712
 * document, the wallet signs it, the proposal is posted with that first signature, and the page
 * moves to the proposal's link, which co-owners open to sign in their own browsers. */
import { encodeFunctionData, getAddress, isAddress, parseUnits, type Address, type Hex } from "viem";
import { vaultAbi } from "../abi";
import { api, ok, type Schemas } from "../api";
import { checkDocument } from "../eip712";
import { InvalidInput } from "../errors";
import { policyFieldset, policyInputs, policyText, policyValue, type PolicyInputs } from "../policy";
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

/** The inputs a configuration change may need; each change shows only its own. */
type ChangeInputs = { address: HTMLInputElement; threshold: HTMLInputElement; policy: PolicyInputs };
type Needs = "address" | "threshold" | "policy" | "nothing";
type Change = { label: string; needs: Needs; data: (i: ChangeInputs) => Hex };

const call = (functionName: string, args: readonly unknown[] = []): Hex =>
  encodeFunctionData({ abi: vaultAbi, functionName, args } as Parameters<typeof encodeFunctionData>[0]);

function addressIn(i: ChangeInputs): Address {
  const value = i.address.value.trim();
  if (!isAddress(value)) throw new InvalidInput(`"${value}" is not an address: 0x followed by 40 hex digits.`);
  return getAddress(value);
}

/** Every configuration function of CopyVault (each callable only by the vault itself, through a
 * ConfigChange the owners' threshold signed). The vault checks each one again on execution. */
const CHANGES: Record<string, Change> = {
  unpause: { label: "Unpause the vault", needs: "nothing", data: () => call("unpause") },
  startCopying: { label: "Start copying again", needs: "nothing", data: () => call("startCopying") },
  setPolicy: { label: "Change the risk policy", needs: "policy", data: (i) => call("setPolicy", [policyValue(i.policy)]) },
  setLeader: { label: "Follow another leader", needs: "address", data: (i) => call("setLeader", [addressIn(i)]) },
  allowAsset: { label: "Allow a token", needs: "address", data: (i) => call("setAssetAllowed", [addressIn(i), true]) },
  disallowAsset: { label: "Disallow a token", needs: "address", data: (i) => call("setAssetAllowed", [addressIn(i), false]) },
  allowVenue: { label: "Allow a venue", needs: "address", data: (i) => call("setVenueAllowed", [addressIn(i), true]) },
  disallowVenue: { label: "Disallow a venue", needs: "address", data: (i) => call("setVenueAllowed", [addressIn(i), false]) },
  addOwner: { label: "Add an owner", needs: "address", data: (i) => call("addOwner", [addressIn(i)]) },
  removeOwner: { label: "Remove an owner", needs: "address", data: (i) => call("removeOwner", [addressIn(i)]) },
  setThreshold: {
    label: "Change the signatures needed (threshold)",
    needs: "threshold",
    data: (i) => call("setThreshold", [BigInt(i.threshold.value)]),
  },
  setOracle: { label: "Use another price oracle", needs: "address", data: (i) => call("setOracle", [addressIn(i)]) },
  acceptGuardian: {
    label: "Let the platform guardian pause the vault",
    needs: "nothing",
    data: () => call("setGuardianAccepted", [true]),
  },
  refuseGuardian: {
    label: "No longer let the platform guardian pause the vault",
    needs: "nothing",
    data: () => call("setGuardianAccepted", [false]),
  },
};

function changeInputs(v: Vault): ChangeInputs {
  return {
    address: input("address", "", { spellcheck: "false", placeholder: "0x…" }),
    threshold: input("threshold", String(v.threshold), { type: "number", min: 1, max: v.owners.length }),
    policy: policyInputs(policyText(v.policy)),
  };
}

export function proposeConfigChange(v: Vault): HTMLElement {
  const status = new Status("propose-config");
  const vault = { path: { vault: v.address } };
  const change = h("select", { name: "change" }, ...Object.entries(CHANGES).map(([key, c]) => h("option", { value: key }, c.label)));
  const hours = input("deadline", "24", { type: "number", min: 1, max: 720 });
  const inputs = changeInputs(v);
  const groups: Record<Exclude<Needs, "nothing">, HTMLElement> = {
    address: field("Address", inputs.address, "The token, venue, leader, owner or oracle the change names."),
    threshold: field("Signatures needed", inputs.threshold, `The vault has ${v.owners.length} owners.`),
    policy: policyFieldset("Risk policy (now in force: filled in)", inputs.policy),
  };
  // Only the chosen change's inputs are shown, and only they are required.
  const showNeeded = () => {
    const needs = CHANGES[change.value].needs;
    for (const [name, group] of Object.entries(groups)) {
      group.hidden = name !== needs;
      group.querySelectorAll("input").forEach((el) => (el.required = name === needs));
    }
  };
  change.addEventListener("change", showNeeded);
  showNeeded();
  const configure = async () => {
    const body = { data: CHANGES[change.value].data(inputs), deadline: deadlineIn(hours.value) };
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
    groups.address,
    groups.threshold,
    groups.policy,
    field("Valid for (hours)", hours),
  );
}
