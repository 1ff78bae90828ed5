// Funnel: how many visitors went through goals in order, within one visit, and where
// they dropped off (tally.query's `funnel`). The panel picks one of the site's funnels
// (defined on the Goals page, or with tally.create_funnel); its name lives in the URL
// as `funnel=Checkout` (a comma-separated list of goals there is a funnel given inline).

import { funnels, query } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { cached } from "../lists.js";
import { baseQuery, compared, update } from "../state.js";
import { skeleton } from "./breakdown.js";
import { Frame } from "./frame.js";

/** `Checkout` or `Pricing, Signup` → the query's `funnel`: a stored funnel's name, or a list of steps. */
function funnelOf(text) {
  const steps = text.split(",").map((s) => s.trim()).filter(Boolean);
  return steps.length === 1 ? steps[0] : steps;
}

/** The picker of the site's funnels: one per panel, so it keeps focus across renders. */
function funnelPicker() {
  const select = h("select", { name: "funnel", onchange: () => update({ funnel: select.value }) });
  const form = h("form", { class: "prop-form", onsubmit: (e) => e.preventDefault() }, h("label", {}, "Funnel ", select));
  return (state, list) => {
    const chosen = list.some((f) => f.name === state.funnel) || !state.funnel ? [] : [h("option", { value: state.funnel }, state.funnel)];
    select.replaceChildren(h("option", { value: "" }, list.length ? "Choose a funnel" : "No funnel defined"), ...chosen, ...list.map((f) => h("option", { value: f.name }, f.name)));
    select.value = state.funnel;
    return [form];
  };
}

export function funnel() {
  // Room for the entered row and four steps; a longer funnel grows the panel when asked for.
  const frame = new Frame({ id: "funnel", title: "Funnel", rows: 5 });
  const picker = funnelPicker();
  async function render(state, signal) {
    // The picker is there at once (the panel keeps its place), its choices once read.
    frame.setLead(picker(state, []));
    let list = [];
    try {
      list = await cached("funnels", state.site, () => funnels(state.site));
    } catch {
      // Without the list the panel still shows the funnel in the URL.
    }
    if (signal.aborted) return;
    frame.setLead(picker(state, list));
    if (!state.funnel) {
      const hint = h("p", { class: "empty" }, list.length ? "Choose a funnel above to see where visitors drop off." : "No funnel yet: analysts define funnels of goals on the Goals page.");
      return frame.show(async () => [hint], null);
    }
    const f = funnelOf(state.funnel);
    const q = compared(state, { ...baseQuery(state), metrics: ["visitors"], funnel: f });
    await frame.show(async () => [steps((await query(q, signal)).funnel)], q, skeleton(Array.isArray(f) ? f.length + 1 : 3));
  }
  return { element: frame.element, render };
}

function steps(result) {
  const previous = result.comparison?.steps;
  const head = h("tr", {}, ["Step", "Visitors", "Conv.", "Dropoff"].map((t, i) => h("th", { scope: "col", class: i ? "num" : null }, t)));
  const entered = h(
    "tr",
    { class: "entered" },
    h("td", { class: "label" }, h("span", { class: "bar", style: "width:100%", "aria-hidden": "true" }), h("span", { class: "name" }, "Entered")),
    h("td", { class: "num", "data-value": result.visitors }, format.number(result.visitors)),
    h("td", { class: "num" }, ""),
    h("td", { class: "num" }, ""),
  );
  const rows = result.steps.map((s, i) =>
    h(
      "tr",
      { "data-value": s.goal },
      h(
        "td",
        { class: "label", title: previous ? `previous period: ${format.metric("conversion_rate", previous[i].conversion_rate)}` : null },
        h("span", { class: "bar", style: `width:${s.conversion_rate}%`, "aria-hidden": "true" }),
        h("span", { class: "name" }, `${i + 1}. ${s.goal}`),
      ),
      h("td", { class: "num", "data-value": s.visitors }, format.number(s.visitors)),
      h("td", { class: "num", "data-value": s.conversion_rate }, format.metric("conversion_rate", s.conversion_rate)),
      h("td", { class: "num", "data-value": s.dropoff }, format.number(s.dropoff)),
    ),
  );
  return h("table", { class: "breakdown funnel" }, h("caption", { class: "sr-only" }, "Funnel steps"), h("thead", {}, head), h("tbody", {}, entered, rows));
}
