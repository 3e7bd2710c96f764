// A scripted EIP-1193 wallet for the browser tests, injected before the app loads. It announces
// itself over EIP-6963 (and as window.ethereum) and forwards every JSON-RPC request to anvil
// through the test's `__walletRpc` binding, so anvil signs typed data and transactions for its
// unlocked dev account exactly as a wallet would. `config` (set by the test) names the account,
// a chain id to report instead of the node's (a wrong-network wallet), and methods to reject
// as a person clicking "Reject" would (EIP-1193 error 4001).
(config) => {
  const listeners = {};
  const rejection = (method) =>
    Object.assign(new Error(`User rejected the request (${method}).`), { code: 4001 });
  const provider = {
    isCopyvaultTestWallet: true,
    async request({ method, params }) {
      if (config.reject.includes(method)) throw rejection(method);
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [config.account];
      if (method === "eth_chainId" && config.chainId) return config.chainId;
      if (method === "wallet_switchEthereumChain") {
        config.chainId = null;
        return null;
      }
      const answer = await window.__walletRpc(method, params ?? []);
      if (answer.error) {
        throw Object.assign(new Error(answer.error.message), answer.error);
      }
      return answer.result;
    },
    on(event, listener) {
      (listeners[event] ??= []).push(listener);
    },
    removeListener(event, listener) {
      listeners[event] = (listeners[event] ?? []).filter((l) => l !== listener);
    },
  };
  window.ethereum = provider;
  const info = {
    uuid: "0b7c0e2a-5f0e-4c55-9a1e-copyvault-test",
    name: "Test wallet (anvil)",
    icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E",
    rdns: "org.copyvault.test-wallet",
  };
  const announce = () =>
    window.dispatchEvent(
      new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }),
    );
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
}
