// Custom events and their properties: the event names sent with tally("Name"), and
// the values of one property key (chosen in the panel, kept in the URL as `prop`).

import { h } from "../dom.js";
import { update } from "../state.js";
import { breakdown } from "./breakdown.js";

/** The form that picks the property key. */
function keyForm(state) {
  const input = h("input", { name: "prop", value: state.prop, placeholder: "e.g. plan", "aria-label": "Property key" });
  const form = h(
    "form",
    { class: "prop-form", onsubmit: (e) => (e.preventDefault(), update({ prop: input.value.trim() })) },
    h("label", {}, "Property ", input),
    h("button", { type: "submit" }, "Show"),
  );
  return [form];
}

export const properties = () =>
  breakdown({
    id: "props",
    title: "Custom events",
    tabs: [
      {
        key: "events",
        label: "Events",
        dimension: "event:name",
        metrics: ["visitors", "events"],
        // Pageviews and engagement have panels of their own.
        filters: [["is_not", "event:name", ["pageview", "engagement"]]],
        empty: "No custom events in this range: send them with tally(\"Name\", {props: {...}}).",
      },
      {
        key: "props",
        label: "Properties",
        dimension: (state) => (state.prop ? `event:props:${state.prop}` : null),
        prompt: keyForm,
        metrics: ["visitors", "events"],
      },
    ],
  });
