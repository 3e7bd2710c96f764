/** Auditor: every deployed contract with its address and on-chain code hash (and whether it is
 * the compiled code), the gas table, the Slither report, and the security model. */
import { api, ok } from "../api";
import { renderMarkdown } from "../markdown";
import { h, section, table } from "../ui";

/** How each comparison of on-chain code with the build reads to a person. */
const MATCH_TEXT: Record<string, string> = {
  exact: "yes, byte for byte",
  immutables_only: "yes, except the immutables the constructor fills",
  differs: "NO: the code differs from the build",
  no_artifact: "no build to compare with",
  no_code: "NO: no code at this address",
};

export async function auditorPage(main: HTMLElement): Promise<void> {
  main.append(h("h1", {}, "Auditor"));
  main.append(...(await Promise.all([contracts(), gas(), slither(), securityModel()])));
}

function contracts(): Promise<HTMLElement> {
  return section("contracts-title", "Deployed contracts", async () => {
    const list = await ok(api.GET("/v1/auditor/contracts"));
    return table(
      `Code on chain ${list.chain_id} at block ${list.block_number}, compared with the build`,
      ["Contract", "Address", "Code hash (keccak-256)", "Same as the build"],
      list.contracts.map((c) => [c.name, h("code", {}, c.address), h("code", {}, c.code_hash ?? "—"), MATCH_TEXT[c.match] ?? c.match]),
    );
  });
}

function gas(): Promise<HTMLElement> {
  return section("gas-title", "Gas", async () => {
    const snapshot = await ok(api.GET("/v1/auditor/gas"));
    const figures = Object.entries(snapshot.figures);
    const columns = ["gas", "gas_limit", "count"].filter((c) => figures.some(([, f]) => c in f));
    return table(
      `Gas snapshot CI checks every change against (${snapshot.anvil ?? "anvil"}, ${snapshot.hardfork ?? "default hardfork"})`,
      ["Figure", ...columns],
      figures.map(([name, figure]) => [name, ...columns.map((c) => figure[c]?.toLocaleString("en-US") ?? "")]),
    );
  });
}

function slither(): Promise<HTMLElement> {
  return section("slither-title", "Slither report", async () => {
    const report = await ok(api.GET("/v1/auditor/slither"));
    return h("div", {}, h("p", {}, `Generated ${report.generated_at}.`), renderMarkdown(report.markdown, 2));
  });
}

function securityModel(): Promise<HTMLElement> {
  return section("model-title", "Security model", async () => {
    const doc = await ok(api.GET("/v1/auditor/documents/{name}", { params: { path: { name: "security-model" } } }));
    return renderMarkdown(doc.markdown, 2);
  });
}
