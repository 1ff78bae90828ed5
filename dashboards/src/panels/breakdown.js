// A report that breaks the visitors down by one dimension: a list of values with a bar
// for each, its metrics beside it, and tabs for related dimensions (pages: top, entry,
// exit). Clicking a value filters the whole dashboard by it. The page, source,
// location, device, goal and property panels are breakdowns with their own tabs.

import { query } from "../api.js";
import { none } from "../dimensions.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { baseQuery, rangeText, update, withFilter } from "../state.js";
import { Frame } from "./frame.js";

/** Rows shown per panel: a glanceable top list; the CSV export has them all. */
const ROWS = 10;

const HEADERS = {
  visitors: "Visitors",
  pageviews: "Views",
  events: "Events",
  conversion_rate: "CR",
  bounce_rate: "Bounce",
  visit_duration: "Duration",
};

/**
 * `tabs`: `[{key, label, dimension, metrics, filters, empty}]` where `dimension(state)`
 * may return null when the tab needs more input (`prompt(state)` returns the nodes that
 * ask for it, shown above the list, and `ask` the text shown in the list meanwhile),
 * `metrics` defaults to visitors, `filters` are added to the dashboard's for this tab
 * only, and `empty` is the text shown when nothing matched.
 */
export function breakdown({ id, title, tabs }) {
  const frame = new Frame({
    id,
    title,
    tabs: tabs.length > 1 ? tabs : [],
    onTab: (key) => update({ tabs: { ...current.tabs, [id]: key } }),
    rows: ROWS,
  });
  let current = null;

  async function render(state, signal) {
    current = state;
    const tab = tabs.find((t) => t.key === state.tabs[id]) || tabs[0];
    frame.selectTab(tab.key);
    const dimension = typeof tab.dimension === "function" ? tab.dimension(state) : tab.dimension;
    frame.setLead(tab.prompt ? tab.prompt(state) : []);
    if (!dimension) return frame.show(async () => [h("p", { class: "empty" }, tab.ask)], null);
    const metrics = tab.metrics || ["visitors"];
    const base = baseQuery(state);
    base.filters.push(...(tab.filters || []));
    const q = { ...base, metrics, dimensions: [dimension], order_by: [[metrics[0], "desc"]] };
    const caption = `${tab.label}, ${rangeText(state)}`;
    await frame.show(
      async () => {
        const answer = await query({ ...q, pagination: { limit: ROWS } }, signal);
        if (answer.results.length === 0) return [h("p", { class: "empty" }, tab.empty || "Nothing in this range yet: try a longer range, or remove a filter.")];
        return [table(state, dimension, metrics, answer.results, tab.label, caption)];
      },
      q,
      skeleton(ROWS),
    );
  }

  return { element: frame.element, render };
}

/** Grey bars where the rows will be, as tall as the table they stand for. */
export function skeleton(rows) {
  return [h("div", { class: "skeleton", "aria-hidden": "true" }, Array.from({ length: rows }, (_, i) => h("span", { style: `width:${90 - i * 7}%` })))];
}

function table(state, dimension, metrics, rows, label, caption) {
  const top = Math.max(...rows.map((r) => r.metrics[0]), 1);
  const head = h("tr", {}, h("th", { scope: "col" }, label), metrics.map((m) => h("th", { scope: "col", class: "num" }, HEADERS[m] || m)));
  const body = rows.map((row) => {
    const value = row.dimensions[0];
    const width = `${((row.metrics[0] / top) * 100).toFixed(1)}%`;
    // Missing values (direct traffic, no region) cannot be filtered on: plain text.
    const name =
      value === null
        ? h("span", { class: "name none" }, none(dimension))
        : h(
            "button",
            {
              type: "button",
              class: "name",
              title: `Filter by ${value}`,
              onclick: () => update({ filters: withFilter(state.filters, dimension, value) }),
            },
            value,
          );
    return h(
      "tr",
      { "data-value": value ?? "" },
      h("td", { class: "label" }, h("span", { class: "bar", style: `width:${width}`, "aria-hidden": "true" }), name),
      metrics.map((m, i) => h("td", { class: "num", "data-value": row.metrics[i] }, format.metric(m, row.metrics[i]))),
    );
  });
  return h("table", { class: "breakdown" }, h("caption", { class: "sr-only" }, caption), h("thead", {}, head), h("tbody", {}, body));
}
