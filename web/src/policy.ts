/** A vault's risk policy as a person edits it: percentages and minutes in the form, the
 * contract's units (basis points, seconds) on the way out. Vault creation and the owners' queue
 * both use it. */
import type { Schemas } from "./api";
import { field, h, input } from "./ui";

/** The policy as typed: percentages, minutes and a count. */
export type PolicyText = {
  fractionPercent: string;
  slippagePercent: string;
  oracleAgeMinutes: string;
  tradesPerDay: string;
  lossBudgetPercent: string;
};
export type PolicyInputs = Record<keyof PolicyText, HTMLInputElement>;

const percentToBps = (percent: string): number => Math.round(Number(percent) * 100);
const bpsToPercent = (bps: number): string => String(bps / 100);

/** A policy in force (as the API shows it) in the form's units. */
export function policyText(p: Schemas["Policy"]): PolicyText {
  return {
    fractionPercent: bpsToPercent(p.max_fraction_bps),
    slippagePercent: bpsToPercent(p.max_slippage_bps),
    oracleAgeMinutes: String(p.max_oracle_age / 60),
    tradesPerDay: String(p.max_trades_per_day),
    lossBudgetPercent: bpsToPercent(p.loss_budget_bps),
  };
}

export function policyInputs(values: PolicyText): PolicyInputs {
  const number = (name: string, value: string, attrs: Record<string, string | number>) =>
    input(name, value, { type: "number", ...attrs });
  return {
    fractionPercent: number("max_fraction", values.fractionPercent, { min: 0.01, max: 100, step: 0.01 }),
    slippagePercent: number("max_slippage", values.slippagePercent, { min: 0, max: 99.99, step: 0.01 }),
    oracleAgeMinutes: number("max_oracle_age", values.oracleAgeMinutes, { min: 1, step: "any" }),
    tradesPerDay: number("max_trades", values.tradesPerDay, { min: 1, max: 65535 }),
    lossBudgetPercent: number("loss_budget", values.lossBudgetPercent, { min: 0, max: 100, step: 0.01 }),
  };
}

export function policyFieldset(legend: string, i: PolicyInputs): HTMLElement {
  return h("fieldset", {}, h("legend", {}, legend),
    field("Largest share of a balance per trade (%)", i.fractionPercent),
    field("Worst price accepted below the oracle (%)", i.slippagePercent),
    field("Oldest oracle answer accepted (minutes)", i.oracleAgeMinutes),
    field("Trades per day at most", i.tradesPerDay),
    field("Daily loss budget against the oracle (%)", i.lossBudgetPercent, "0 turns the loss budget off."),
  );
}

/** The policy struct the contracts take (VaultFactory.createVault, CopyVault.setPolicy). */
export function policyValue(i: PolicyInputs) {
  return {
    maxFractionBps: percentToBps(i.fractionPercent.value),
    maxSlippageBps: percentToBps(i.slippagePercent.value),
    maxOracleAge: Math.round(Number(i.oracleAgeMinutes.value) * 60),
    maxTradesPerDay: Number(i.tradesPerDay.value),
    lossBudgetBps: percentToBps(i.lossBudgetPercent.value),
  };
}
