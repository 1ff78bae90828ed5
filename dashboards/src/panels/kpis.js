// The key figures of the range: visitors, visits, pageviews, bounce rate, visit
// duration and views per visit, each with its change against the comparison period.
// Clicking a card plots that metric in the chart.

import { query } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { baseQuery, compared, update } from "../state.js";
import { Frame } from "./frame.js";

export const KPIS = [
  ["visitors", "Unique visitors"],
  ["visits", "Total visits"],
  ["pageviews", "Total pageviews"],
  ["views_per_visit", "Views per visit"],
  ["bounce_rate", "Bounce rate"],
  ["visit_duration", "Visit duration"],
];

/** Metrics whose rise is bad news: their change is coloured the other way round. */
const LOWER_IS_BETTER = new Set(["bounce_rate"]);

export function kpis() {
  const frame = new Frame({ id: "kpis", title: "Overview" });
  async function render(state, signal) {
    const q = compared(state, { ...baseQuery(state), metrics: KPIS.map(([m]) => m) });
    // The cards themselves, without figures, hold the place of the answer.
    const waiting = [cards(state, null)];
    await frame.show(async () => [cards(state, (await query(q, signal)).results[0])], q, waiting);
  }
  return { element: frame.element, render };
}

function cards(state, row) {
  return h("div", { class: "cards" }, KPIS.map(([m, label], i) => card(state, m, label, row, i)));
}

/** One metric's card; without `row` (no answer yet) its figures are placeholders. */
function card(state, metric, label, row, i) {
  const value = row?.metrics[i];
  const delta = row?.comparison?.change[i];
  const good = delta > 0 !== LOWER_IS_BETTER.has(metric);
  const trend = delta === null || delta === undefined || delta === 0 ? "flat" : good ? "up" : "down";
  // The change line is always there (empty without a comparison): every card has one height.
  const change = row?.comparison
    ? h(
        "span",
        { class: `card-change ${trend}`, "data-value": delta ?? "", title: `was ${format.metric(metric, row.comparison.metrics[i])}` },
        format.change(metric, delta) || "new",
      )
    : h("span", { class: "card-change", "aria-hidden": "true" });
  return h(
    "button",
    {
      type: "button",
      class: "card",
      "data-metric": metric,
      "aria-pressed": String(state.metric === metric),
      onclick: () => update({ metric }),
    },
    h("span", { class: "card-label" }, label),
    row ? h("span", { class: "card-value", "data-value": value }, format.metric(metric, value)) : h("span", { class: "card-value placeholder" }, "…"),
    change,
  );
}
