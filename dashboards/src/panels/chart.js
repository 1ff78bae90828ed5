// The time series of the metric picked in the KPI cards (visitors by default), with
// the comparison period dashed behind it. Drawn by uPlot, bundled: nothing is loaded
// from elsewhere at run time.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

import { query } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { baseQuery, compared } from "../state.js";
import { Frame } from "./frame.js";
import { KPIS } from "./kpis.js";

const HEIGHT = 240;

/** Buckets fine enough to show a shape, coarse enough to stay a few hundred points. */
function unit(state) {
  if (state.period === "today" || state.period === "realtime") return "hour";
  if (state.period === "custom" && (Date.parse(state.to) - Date.parse(state.from)) / 86400e3 > 366) return "week";
  return "day";
}

/** Labels (`YYYY-MM-DD` or `YYYY-MM-DD HH:00:00`, site time) → seconds, read as UTC. */
const seconds = (label) => Date.parse(`${label.replace(" ", "T")}Z`) / 1000;

/**
 * Every bucket of the answered range, so days without visits plot as zero instead of
 * being skipped. Weeks and realtime hours come only from the rows.
 */
function buckets(answer, unitName) {
  const [from, to] = answer.query.date_range;
  const step = unitName === "day" ? 86400 : unitName === "hour" ? 3600 : 0;
  if (!step || from.includes("T")) return answer.results.map((r) => seconds(r.dimensions[0]));
  // The range is whole days: its last bucket starts a step before the day after `to`.
  const out = [];
  for (let t = seconds(from); t < seconds(to) + 86400; t += step) out.push(t);
  return out;
}

export function chart() {
  const frame = new Frame({ id: "chart", title: "Visitors" });
  const title = frame.element.querySelector("h2");
  const holder = h("div", { class: "chart" });
  let plot = null;
  new ResizeObserver(() => plot?.setSize({ width: holder.clientWidth, height: HEIGHT })).observe(holder);

  async function render(state, signal) {
    const metric = KPIS.find(([m]) => m === state.metric)?.[0] || "visitors";
    title.textContent = KPIS.find(([m]) => m === metric)[1];
    const u = unit(state);
    const q = compared(state, { ...baseQuery(state), metrics: [metric], dimensions: [`time:${u}`] });
    const compare = Boolean(q.include);
    await frame.show(async () => {
      const answer = await query(q, signal);
      const xs = buckets(answer, u);
      const byTime = new Map(answer.results.map((r) => [seconds(r.dimensions[0]), r]));
      const current = xs.map((x) => byTime.get(x)?.metrics[0] ?? 0);
      const previous = xs.map((x) => byTime.get(x)?.comparison?.metrics[0] ?? (compare ? 0 : null));
      plot?.destroy();
      plot = draw(holder, metric, xs, current, compare ? previous : null);
      return [holder];
    }, q);
  }
  return { element: frame.element, render };
}

function draw(holder, metric, xs, current, previous) {
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const axis = { stroke: color("--muted"), grid: { stroke: color("--line"), width: 1 }, ticks: { show: false } };
  const series = [
    {},
    { label: "Current", stroke: color("--accent"), fill: color("--accent-fill"), width: 2, value: (_, v) => format.metric(metric, v) },
  ];
  const data = [xs, current];
  if (previous) {
    series.push({ label: "Previous", stroke: color("--muted"), dash: [4, 4], width: 1, value: (_, v) => format.metric(metric, v) });
    data.push(previous);
  }
  holder.replaceChildren();
  return new uPlot(
    {
      width: holder.clientWidth || 600,
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      cursor: { drag: { x: false, y: false } },
      legend: { show: true },
      scales: { x: { time: true }, y: { range: (_, min, max) => [0, Math.max(max * 1.1, 1)] } },
      axes: [axis, { ...axis, size: 56, values: (_, ticks) => ticks.map((v) => format.metric(metric, v)) }],
      series,
    },
    data,
    holder,
  );
}
