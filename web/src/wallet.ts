/** The connected wallet: EIP-6963 discovery (every injected wallet announces itself), with the
 * legacy `window.ethereum` as a fallback; viem clients over the wallet's EIP-1193 transport.
 * Every transaction reports pending → included → confirmed (or reverted, or dropped by a reorg
 * and pending again) through a Status line. */
import {
  createPublicClient,
  createWalletClient,
  custom,
  type Address,
  type EIP1193Provider,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
} from "viem";
import { NoWallet, WrongNetwork, describe } from "./errors";
import { Status } from "./ui";

export interface ProviderInfo {
  uuid: string;
  name: string;
  rdns: string;
}
export interface ProviderDetail {
  info: ProviderInfo;
  provider: EIP1193Provider;
}

type Listener = () => void;

/** How often a transaction's progress is polled (the wallet's node answers each poll). */
const POLL_MS = 250;

/** Where an included transaction stands: confirmed, or its block left the canonical chain. */
type Inclusion = "confirmed" | "dropped";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The typed-data document of `eth_signTypedData_v4`, as the server prepares it. */
export type TypedDataDocument = Record<string, unknown>;

class Wallet {
  readonly providers: ProviderDetail[] = [];
  provider?: EIP1193Provider;
  account?: Address;
  chainId?: number;
  /** The deployment's chain, set at start from the server's health answer. */
  expectedChain?: number;
  /** Blocks on top of a transaction's block before the page calls it confirmed: the server
   * index's own depth (GET /v1/health `indexer.confirmations`), set at start. */
  confirmations = 0;
  private listeners: Listener[] = [];

  /** Listen for EIP-6963 announcements and ask wallets to announce themselves. */
  discover(): void {
    window.addEventListener("eip6963:announceProvider", (event) => {
      const detail = (event as CustomEvent<ProviderDetail>).detail;
      if (!this.providers.some((p) => p.info.uuid === detail.info.uuid)) {
        this.providers.push(detail);
        this.changed();
      }
    });
    window.dispatchEvent(new Event("eip6963:requestProvider"));
    const legacy = (window as { ethereum?: EIP1193Provider }).ethereum;
    if (legacy && this.providers.length === 0) {
      this.providers.push({
        info: { uuid: "legacy", name: "Browser wallet", rdns: "window.ethereum" },
        provider: legacy,
      });
    }
  }

  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  async connect(detail: ProviderDetail): Promise<void> {
    const provider = detail.provider;
    const accounts = (await provider.request({ method: "eth_requestAccounts" })) as Address[];
    this.provider = provider;
    this.account = accounts[0];
    this.chainId = Number(await provider.request({ method: "eth_chainId" }));
    provider.on?.("accountsChanged", (next: Address[]) => {
      this.account = next[0];
      this.changed();
    });
    provider.on?.("chainChanged", (id: string) => {
      this.chainId = Number(id);
      this.changed();
    });
    this.changed();
  }

  get wrongNetwork(): boolean {
    return this.chainId !== undefined && this.chainId !== this.expectedChain;
  }

  async switchNetwork(): Promise<void> {
    const chainId = `0x${(this.expectedChain ?? 0).toString(16)}`;
    await this.connected().request({ method: "wallet_switchEthereumChain", params: [{ chainId }] });
    this.chainId = this.expectedChain;
    this.changed();
  }

  /** The provider, once connected to the right chain; else the error a person can act on. */
  private connected(): EIP1193Provider {
    if (!this.provider || !this.account) throw new NoWallet();
    return this.provider;
  }

  /** The account, checked to be on the deployment's chain (signatures and transactions on
   * another chain would be worthless or, worse, valid elsewhere). */
  ready(): Address {
    this.connected();
    if (this.wrongNetwork) throw new WrongNetwork(this.chainId ?? 0, this.expectedChain ?? 0);
    return this.account as Address;
  }

  reader(): PublicClient {
    return createPublicClient({ transport: custom(this.connected()), pollingInterval: 250 });
  }

  /** Sign a server-prepared EIP-712 document exactly as given (the wallet shows its fields). */
  async signTypedData(document: TypedDataDocument): Promise<Hex> {
    const account = this.ready();
    return (await this.connected().request({
      method: "eth_signTypedData_v4",
      params: [account, JSON.stringify(document)],
    })) as Hex;
  }

  /** Send a transaction and follow it: pending with its hash, included in a block, then
   * confirmed once `confirmations` blocks are on top of it (or reverted). A receipt whose block
   * leaves the canonical chain (a reorg) sends it back to pending. Returns the receipt once
   * confirmed, undefined otherwise (the status says why). */
  async send(
    status: Status,
    what: string,
    call: { to: Address; data: Hex },
  ): Promise<TransactionReceipt | undefined> {
    try {
      const account = this.ready();
      status.show("pending", `${what}: confirm in your wallet…`);
      const client = createWalletClient({ account, transport: custom(this.connected()) });
      const hash = await client.sendTransaction({ ...call, account, chain: null });
      const pending = `${what}: pending (transaction ${hash.slice(0, 10)}…)`;
      status.show("pending", pending);
      for (;;) {
        const receipt = await this.receiptOf(hash);
        if (receipt.status !== "success") {
          status.show("error", `${what}: the transaction reverted (block ${receipt.blockNumber}).`);
          return undefined;
        }
        if ((await this.untilConfirmed(receipt, status, what)) === "confirmed") {
          status.show("ok", `${what}: confirmed in block ${receipt.blockNumber}.`);
          return receipt;
        }
        status.show("pending", `${what}: dropped by a reorg, waiting again (transaction ${hash.slice(0, 10)}…)`);
      }
    } catch (error) {
      status.show("error", describe(error));
      return undefined;
    }
  }

  /** The transaction's receipt, polled until there is one (the node may drop and re-include it,
   * so a missing receipt is never an error here). */
  private async receiptOf(hash: Hex): Promise<TransactionReceipt> {
    const reader = this.reader();
    for (;;) {
      const receipt = await reader.getTransactionReceipt({ hash }).catch(() => undefined);
      if (receipt) return receipt;
      await pause(POLL_MS);
    }
  }

  /** Watch the receipt's block until enough blocks are on top of it, checking at each poll that
   * the block at that height is still the receipt's (else a reorg dropped it). */
  private async untilConfirmed(receipt: TransactionReceipt, status: Status, what: string): Promise<Inclusion> {
    const reader = this.reader();
    for (;;) {
      const block = await reader.getBlock({ blockNumber: receipt.blockNumber }).catch(() => undefined);
      if (block?.hash !== receipt.blockHash) return "dropped";
      const onTop = Number((await reader.getBlockNumber({ cacheTime: 0 })) - receipt.blockNumber);
      if (onTop >= this.confirmations) return "confirmed";
      const left = this.confirmations - onTop;
      status.show("pending", `${what}: included in block ${receipt.blockNumber}, waiting for ${left} more block${left === 1 ? "" : "s"}…`);
      await pause(POLL_MS);
    }
  }
}

export const wallet = new Wallet();
