// The time series of the metric picked in the KPI cards (visitors by default), with
// the comparison period dashed behind it. Drawn by uPlot, bundled in a chunk of its
// own that loads while the first answers are on their way (the page's first paint does
// not wait for it); nothing is loaded from elsewhere at run time.

import "uplot/dist/uPlot.min.css";

import { query } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { baseQuery, compared, rangeText } from "../state.js";
import { Frame } from "./frame.js";
import { KPIS } from "./kpis.js";

const HEIGHT = 240;

let plotting = null;
/** uPlot, fetched once, on the first call. */
const uPlotLoaded = () => (plotting ??= import("uplot").then((m) => m.default));

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
  // The data as a table, in place of the plot: the chart's text alternative, and the
  // figures behind it for anyone who wants them.
  const toggle = h("button", { type: "button", class: "export", "aria-pressed": "false" }, "Table");
  const frame = new Frame({ id: "chart", title: "Visitors", actions: [toggle] });
  const holder = h("div", { class: "chart", role: "img", "aria-label": "Chart, loading" });
  const box = h("div", { class: "chart-box" }, holder);
  let plot = null;
  let shown = null;
  uPlotLoaded();
  new ResizeObserver(() => plot?.setSize({ width: holder.clientWidth, height: HEIGHT })).observe(holder);
  toggle.addEventListener("click", () => {
    toggle.setAttribute("aria-pressed", String(toggle.getAttribute("aria-pressed") !== "true"));
    if (shown) box.replaceChildren(...view(shown));
  });

  /** The plot, or its table when the toggle is pressed; an overlay says when all is zero. */
  function view({ label, metric, xs, current, previous, range }) {
    if (toggle.getAttribute("aria-pressed") === "true") return [dataTable(label, metric, xs, current, previous, range)];
    const empty = current.every((v) => !v) && !previous?.some((v) => v);
    if (!empty) return [holder];
    return [holder, h("p", { class: "chart-empty" }, "No visitors in this range yet. Pick a longer range, or check that the site loads /tally.js.")];
  }

  async function render(state, signal) {
    const metric = KPIS.find(([m]) => m === state.metric)?.[0] || "visitors";
    const label = KPIS.find(([m]) => m === metric)[1];
    frame.title.textContent = label;
    const u = unit(state);
    const q = compared(state, { ...baseQuery(state), metrics: [metric], dimensions: [`time:${u}`] });
    const compare = Boolean(q.include?.comparisons);
    await frame.show(
      async () => {
        const [answer, uPlot] = await Promise.all([query(q, signal), uPlotLoaded()]);
        const xs = buckets(answer, u);
        const byTime = new Map(answer.results.map((r) => [seconds(r.dimensions[0]), r]));
        const current = xs.map((x) => byTime.get(x)?.metrics[0] ?? 0);
        const previous = compare ? xs.map((x) => byTime.get(x)?.comparison?.metrics[0] ?? 0) : null;
        shown = { label, metric, xs, current, previous, range: rangeText(state) };
        box.replaceChildren(...view(shown));
        holder.setAttribute("aria-label", summary(shown));
        plot?.destroy();
        plot = draw(uPlot, holder, metric, xs, current, previous);
        return [box];
      },
      q,
      [box],
    );
  }
  return { element: frame.element, render };
}

/** A bucket's start as shown: a day, or a day and hour. */
const when = (x, withHour) => new Date(x * 1000).toISOString().slice(0, withHour ? 16 : 10).replace("T", " ");

/** The plot in one sentence: what, over which range, the total (or mean) and the peak. */
function summary({ label, metric, xs, current, range }) {
  if (xs.length === 0) return `${label}, ${range}: no data.`;
  const peak = current.indexOf(Math.max(...current));
  const hourly = xs.length > 1 && xs[1] - xs[0] < 86400;
  return `${label}, ${range}, ${xs.length} points from ${when(xs[0], hourly)} to ${when(xs.at(-1), hourly)}; highest ${format.metric(metric, current[peak])} on ${when(xs[peak], hourly)}. The Table button shows every point.`;
}

function dataTable(label, metric, xs, current, previous, range) {
  const hourly = xs.length > 1 && xs[1] - xs[0] < 86400;
  const head = h("tr", {}, h("th", { scope: "col" }, hourly ? "Hour" : "Day"), h("th", { scope: "col", class: "num" }, "Current"), previous ? h("th", { scope: "col", class: "num" }, "Previous") : null);
  const rows = xs.map((x, i) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, when(x, hourly)),
      h("td", { class: "num" }, format.metric(metric, current[i])),
      previous ? h("td", { class: "num" }, format.metric(metric, previous[i])) : null,
    ),
  );
  // Scrolls inside the chart's box; focusable, so a keyboard scrolls it too.
  return h(
    "div",
    { class: "chart-table", tabindex: "0", role: "region", "aria-label": `${label} by ${hourly ? "hour" : "day"}` },
    h("table", { class: "breakdown" }, h("caption", { class: "sr-only" }, `${label}, ${range}`), h("thead", {}, head), h("tbody", {}, rows)),
  );
}

function draw(uPlot, holder, metric, xs, current, previous) {
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
