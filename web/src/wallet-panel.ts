/** The header's wallet panel: pick a discovered wallet, see the account and whether the wallet
 * is on the deployment's network (with a button to switch). */
import { describe } from "./errors";
import { shortAddress } from "./format";
import { Status, h, replace } from "./ui";
import { wallet } from "./wallet";

export function renderWalletPanel(panel: HTMLElement): void {
  const status = new Status("wallet");
  if (wallet.account) {
    replace(panel, h("span", { "data-account": wallet.account }, `Connected: ${shortAddress(wallet.account)}`));
    if (wallet.wrongNetwork) {
      status.show(
        "error",
        `Wrong network: your wallet is on chain ${wallet.chainId}, copyvault runs on chain ${wallet.expectedChain}.`,
      );
      panel.append(
        status.el,
        h("button", { type: "button", onclick: () => void switchNetwork(status) }, "Switch network"),
      );
    }
    return;
  }
  if (wallet.providers.length === 0) {
    status.show("info", "No browser wallet found: install one to act; you can still look around.");
    replace(panel, status.el);
    return;
  }
  replace(
    panel,
    ...wallet.providers.map((detail) =>
      h(
        "button",
        { type: "button", onclick: () => void connect(detail, status) },
        wallet.providers.length === 1 ? "Connect wallet" : `Connect ${detail.info.name}`,
      ),
    ),
    status.el,
  );
}

async function connect(detail: (typeof wallet.providers)[number], status: Status): Promise<void> {
  try {
    status.show("pending", "Waiting for your wallet…");
    await wallet.connect(detail);
  } catch (error) {
    status.show("error", describe(error));
  }
}

async function switchNetwork(status: Status): Promise<void> {
  try {
    await wallet.switchNetwork();
  } catch (error) {
    status.show("error", describe(error));
  }
}
