/** The app's shell: the wallet panel, the navigation and a hash router to the pages.
 * Pages are chosen by user journey: #/follower, #/vault/<address>, #/proposal/<digest>,
 * #/leader, #/auditor. */
import "./style.css";
import { api, ok } from "./api";
import { loadDeployment } from "./deployment";
import { describe } from "./errors";
import { auditorPage } from "./pages/auditor";
import { followerPage } from "./pages/follower";
import { leaderPage } from "./pages/leader";
import { proposalPage } from "./pages/proposal";
import { vaultPage } from "./pages/vault";
import { h, replace } from "./ui";
import { wallet } from "./wallet";
import { renderWalletPanel } from "./wallet-panel";

type Page = (main: HTMLElement, argument: string) => Promise<void>;

const PAGES: Record<string, Page> = {
  follower: followerPage,
  vault: vaultPage,
  proposal: proposalPage,
  leader: leaderPage,
  auditor: auditorPage,
};

/** Each render gets a number; a page that finishes loading after the next navigation is dropped. */
let renderCount = 0;

async function render(): Promise<void> {
  const main = document.getElementById("page") as HTMLElement;
  const [name, argument = ""] = window.location.hash.replace(/^#\/?/, "").split("/");
  const page = PAGES[name] ?? followerPage;
  const mine = ++renderCount;
  // Busy until the page is drawn: assistive technology (and the browser tests) wait for it.
  main.setAttribute("aria-busy", "true");
  const fresh = h("div", { class: "page" });
  try {
    await page(fresh, argument);
  } catch (error) {
    replace(fresh, h("p", { class: "status", "data-kind": "error", role: "alert" }, describe(error)));
  }
  if (mine !== renderCount) return;
  replace(main, fresh);
  main.setAttribute("aria-busy", "false");
  for (const link of document.querySelectorAll("nav a")) {
    const current = link.getAttribute("href") === `#/${name || "follower"}`;
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function start(): Promise<void> {
  const deployment = await loadDeployment();
  wallet.expectedChain = deployment.chain_id;
  wallet.confirmations = (await ok(api.GET("/v1/health"))).indexer.confirmations;
  wallet.discover();
  const panel = document.getElementById("wallet") as HTMLElement;
  renderWalletPanel(panel);
  let lastAccount = wallet.account;
  wallet.onChange(() => {
    renderWalletPanel(panel);
    // A new account or network changes what every page shows.
    if (wallet.account !== lastAccount) {
      lastAccount = wallet.account;
      void render();
    }
  });
  window.addEventListener("hashchange", () => void render());
  await render();
}

void start().catch((error) => {
  replace(
    document.getElementById("page") as HTMLElement,
    h("p", { class: "status", "data-kind": "error", role: "alert" }, describe(error)),
  );
});
