// Custom events and their properties: the event names sent with tally("Name"), and
// the values of one property key (chosen in the panel, kept in the URL as `prop`).

import { h } from "../dom.js";
import { update } from "../state.js";
import { breakdown } from "./breakdown.js";

/** The form that picks the property key: one per panel, so it keeps focus across renders. */
function keyForm() {
  const input = h("input", { name: "prop", placeholder: "e.g. plan", autocomplete: "off" });
  const form = h(
    "form",
    { class: "prop-form", onsubmit: (e) => (e.preventDefault(), update({ prop: input.value.trim() })) },
    h("label", {}, "Property key ", input),
    h("button", { type: "submit" }, "Show"),
  );
  return (state) => {
    if (document.activeElement !== input) input.value = state.prop;
    return [form];
  };
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
        empty: "No custom events in this range yet: send them with tally(\"Name\", {props: {...}}).",
      },
      {
        key: "props",
        label: "Properties",
        dimension: (state) => (state.prop ? `event:props:${state.prop}` : null),
        prompt: keyForm(),
        ask: "Type a property key above (one your custom events send, e.g. plan) to see its values.",
        metrics: ["visitors", "events"],
      },
    ],
  });
