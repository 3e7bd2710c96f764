/** Auditor: every deployed contract with its address and on-chain code hash (and whether it is
 * the compiled code), the gas table, the Slither report, and the security model. */
import securityModel from "../../../docs/security-model.md?raw";
import { api, ok } from "../api";
import { renderMarkdown } from "../markdown";
import { h, section, table } from "../ui";

export async function auditorPage(main: HTMLElement): Promise<void> {
  main.append(h("h1", {}, "Auditor"));
  const sections = await Promise.all([contracts(), gas(), slither()]);
  main.append(
    ...sections,
    h("section", { "aria-labelledby": "model-title" }, h("h2", { id: "model-title" }, "Security model"), renderMarkdown(securityModel, 2)),
  );
}

function contracts(): Promise<HTMLElement> {
  return section("contracts-title", "Deployed contracts", async () => {
    const list = await ok(api.GET("/v1/auditor/contracts"));
    return table(
      "Each contract's code hash on chain, compared with the compiled build",
      ["Contract", "Address", "Code hash", "Matches the build"],
      list.contracts.map((c) => [c.name, h("code", {}, c.address), h("code", {}, c.code_hash ?? "—"), c.matches_artifact === null ? "not compared" : c.matches_artifact ? "yes" : "NO"]),
    );
  });
}

function gas(): Promise<HTMLElement> {
  return section("gas-title", "Gas", async () => {
    const snapshot = await ok(api.GET("/v1/auditor/gas"));
    return table(
      "Gas snapshot (bench/gas-snapshot.json)",
      ["Figure", "Gas used"],
      Object.entries(snapshot.figures).map(([name, figure]) => [name, (figure as { gas_used?: number }).gas_used?.toLocaleString("en-US") ?? JSON.stringify(figure)]),
    );
  });
}

function slither(): Promise<HTMLElement> {
  return section("slither-title", "Slither report", async () => {
    const report = await ok(api.GET("/v1/auditor/slither"));
    return renderMarkdown(report.markdown, 2);
  });
}
