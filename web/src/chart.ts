/** The vault's value over time (GET /v1/vaults/{vault}/history) drawn with uPlot, with the same
 * figures in words beside it for readers who cannot see the chart. */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { api, ok } from "./api";
import { formatTime, formatUsd } from "./format";
import { h } from "./ui";

const WIDTH = 720;
const HEIGHT = 260;

export async function valueChart(vault: string): Promise<HTMLElement> {
  const history = await ok(api.GET("/v1/vaults/{vault}/history", { params: { path: { vault } } }));
  const points = history.points.filter((p) => p.usd !== null);
  if (points.length === 0) return h("p", {}, "No priced history yet.");
  const times = points.map((p) => p.timestamp);
  const values = points.map((p) => Number(p.usd));
  const first = points[0];
  const last = points[points.length - 1];
  const summary = `From ${formatUsd(first.usd)} on ${formatTime(first.timestamp)} to ${formatUsd(last.usd)} on ${formatTime(last.timestamp)}, ${points.length} points.`;
  const plot = h("div", { role: "img", "aria-label": `Vault value in USD over time. ${summary}` });
  const figure = h("figure", { class: "chart" }, plot, h("figcaption", {}, summary));
  new uPlot(
    {
      width: WIDTH,
      height: HEIGHT,
      series: [{}, { label: "Value (USD)", stroke: "#0b5cad", width: 2, value: (_u, v) => (v === null ? "—" : `$${v.toFixed(2)}`) }],
      axes: [{}, { values: (_u, ticks) => ticks.map((t) => `$${t.toLocaleString("en-US")}`), size: 80 }],
    },
    [times, values],
    plot,
  );
  return figure;
}
