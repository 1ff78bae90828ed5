// Funnel: how many visitors went through goals in order, within one visit, and where
// they dropped off (tally.query's `funnel`). The steps are goal names typed in the
// panel, or the name of a funnel stored with tally.create_funnel; they live in the URL
// as `funnel=Pricing,Signup`.

import { query } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { baseQuery, compared, update } from "../state.js";
import { Frame } from "./frame.js";

/** `Pricing, Signup` → the query's `funnel`: a list of steps, or one stored funnel's name. */
function funnelOf(text) {
  const steps = text.split(",").map((s) => s.trim()).filter(Boolean);
  return steps.length === 1 ? steps[0] : steps;
}

function stepsForm(state) {
  const input = h("input", {
    name: "funnel",
    value: state.funnel,
    placeholder: "Goal, goal, … or a stored funnel",
    "aria-label": "Funnel steps",
  });
  return h(
    "form",
    { class: "prop-form", onsubmit: (e) => (e.preventDefault(), update({ funnel: input.value.trim() })) },
    input,
    h("button", { type: "submit" }, "Show"),
  );
}

export function funnel() {
  const frame = new Frame({ id: "funnel", title: "Funnel" });
  async function render(state, signal) {
    if (!state.funnel) {
      const hint = h("p", { class: "empty" }, "Name two or more goals in order (or a funnel stored with tally.create_funnel).");
      return frame.show(async () => [stepsForm(state), hint], null);
    }
    const q = compared(state, { ...baseQuery(state), metrics: ["visitors"], funnel: funnelOf(state.funnel) });
    await frame.show(async () => {
      const answer = await query(q, signal);
      return [stepsForm(state), steps(answer.funnel)];
    }, q);
  }
  return { element: frame.element, render };
}

function steps(result) {
  const previous = result.comparison?.steps;
  const head = h("tr", {}, h("th", {}, "Step"), h("th", { class: "num" }, "Visitors"), h("th", { class: "num" }, "Conv."), h("th", { class: "num" }, "Dropoff"));
  const entered = h(
    "tr",
    { class: "entered" },
    h("td", { class: "label" }, h("span", { class: "bar", style: "width:100%" }), h("span", { class: "name" }, "Entered")),
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
        h("span", { class: "bar", style: `width:${s.conversion_rate}%` }),
        h("span", { class: "name" }, `${i + 1}. ${s.goal}`),
      ),
      h("td", { class: "num", "data-value": s.visitors }, format.number(s.visitors)),
      h("td", { class: "num", "data-value": s.conversion_rate }, format.metric("conversion_rate", s.conversion_rate)),
      h("td", { class: "num", "data-value": s.dropoff }, format.number(s.dropoff)),
    ),
  );
  return h("table", { class: "breakdown funnel" }, h("thead", {}, head), h("tbody", {}, entered, rows));
}
