/** Every failure a person can meet, as a sentence: API error codes (one table,
 * error-sentences.json, which a test checks against the server's codes), wallet rejections and
 * wrong networks. Nothing reaches the page as a stack trace. */
import { ApiFailure } from "./api";
import sentences from "./error-sentences.json";

const SENTENCES: Record<string, string> = sentences;

/** Thrown before a wallet call when the wallet is on another chain than the deployment. */
export class WrongNetwork extends Error {
  constructor(
    readonly walletChain: number,
    readonly expectedChain: number,
  ) {
    super(`wallet on chain ${walletChain}, expected ${expectedChain}`);
  }
}

export class NoWallet extends Error {}

/** A document to sign that is not one of copyvault's (eip712.ts checks each before signing). */
export class UnexpectedDocument extends Error {}

/** Signatures pasted for a Safe that cannot make its signature (their message says why). */
export class BadSafeSignatures extends Error {}

/** A value typed into a form that cannot be used (its message says what is wrong). */
export class InvalidInput extends Error {}

/** EIP-1193 code 4001 (user rejected), anywhere in viem's chain of causes. */
function isRejection(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; e && depth < 8; depth++) {
    const { code, name } = e as { code?: number; name?: string };
    if (code === 4001 || name === "UserRejectedRequestError") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function sentenceFor(code: string): string {
  return SENTENCES[code] ?? `The server refused the request (${code}).`;
}

export function describe(error: unknown): string {
  if (error instanceof ApiFailure) return `${sentenceFor(error.code)} (${error.detail})`;
  if (error instanceof WrongNetwork) {
    return `Your wallet is on the wrong network (chain ${error.walletChain}). Switch it to chain ${error.expectedChain} and try again.`;
  }
  if (error instanceof UnexpectedDocument || error instanceof BadSafeSignatures || error instanceof InvalidInput) {
    return error.message;
  }
  if (error instanceof NoWallet) return "No wallet found. Install or unlock a browser wallet and connect.";
  if (isRejection(error)) return "You rejected the request in your wallet. Nothing was signed or sent.";
  const short = (error as { shortMessage?: string }).shortMessage;
  return `Something went wrong: ${short ?? (error instanceof Error ? error.message : String(error))}`;
}
