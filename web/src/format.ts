/** Amounts, prices and addresses shown one way everywhere. */
import { formatUnits } from "viem";

/** A raw token amount with the token's decimals, grouped, at most `places` decimals. */
export function formatAmount(raw: string | bigint, decimals: number, places = 4): string {
  const text = formatUnits(BigInt(raw), decimals);
  const [whole, fraction = ""] = text.split(".");
  const grouped = BigInt(whole).toLocaleString("en-US");
  const cut = fraction.slice(0, places).replace(/0+$/, "");
  return cut ? `${grouped}.${cut}` : grouped;
}

/** A 1e18-scaled price (token_out per token_in, raw units) in human units. */
export function formatPrice(
  scaled: bigint,
  decimalsIn: number,
  decimalsOut: number,
  places = 4,
): string {
  // scaled = out_raw * 1e18 / in_raw; human = scaled * 10^decimalsIn / 10^decimalsOut / 1e18.
  const human = (scaled * 10n ** BigInt(decimalsIn)) / 10n ** BigInt(decimalsOut);
  return formatAmount(human, 18, places);
}

export function formatUsd(usd: string | null | undefined): string {
  if (usd === null || usd === undefined) return "unknown";
  const [whole, fraction = ""] = usd.split(".");
  return `$${BigInt(whole).toLocaleString("en-US")}.${fraction.padEnd(2, "0").slice(0, 2)}`;
}

export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

export function formatTime(unixSeconds: number | null | undefined): string {
  if (!unixSeconds) return "—";
  return new Date(unixSeconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}
