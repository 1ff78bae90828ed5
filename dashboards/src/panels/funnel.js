// Funnel: how many visitors went through goals in order, within one visit, and where
// they dropped off (tally.query's `funnel`). The steps are goal names typed in the
// panel, or the name of a funnel stored with tally.create_funnel; they live in the URL
// as `funnel=Pricing,Signup`.

import { query } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { baseQuery, compared, update } from "../state.js";
import { skeleton } from "./breakdown.js";
import { Frame } from "./frame.js";

/** `Pricing, Signup` → the query's `funnel`: a list of steps, or one stored funnel's name. */
function funnelOf(text) {
  const steps = text.split(",").map((s) => s.trim()).filter(Boolean);
  return steps.length === 1 ? steps[0] : steps;
}

/** The form that names the steps: one per panel, so it keeps focus across renders. */
function stepsForm() {
  const input = h("input", { name: "funnel", placeholder: "Goal, goal, … or a stored funnel", autocomplete: "off" });
  const form = h(
    "form",
    { class: "prop-form", onsubmit: (e) => (e.preventDefault(), update({ funnel: input.value.trim() })) },
    h("label", {}, "Funnel steps ", input),
    h("button", { type: "submit" }, "Show"),
  );
  return (state) => {
    if (document.activeElement !== input) input.value = state.funnel;
    return [form];
  };
}

export function funnel() {
  // Room for the entered row and four steps; a longer funnel grows the panel when asked for.
  const frame = new Frame({ id: "funnel", title: "Funnel", rows: 5 });
  const form = stepsForm();
  async function render(state, signal) {
    frame.setLead(form(state));
    if (!state.funnel) {
      const hint = h("p", { class: "empty" }, "Name two or more goals in order, separated by commas (or a funnel stored with tally.create_funnel).");
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
