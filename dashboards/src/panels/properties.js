// Custom events and their properties: the event names sent with tally("Name"), and
// the values of one property key, picked from the keys the site's events sent lately
// (kept in the URL as `prop`).

import { propertyKeys } from "../api.js";
import { h } from "../dom.js";
import { cached } from "../lists.js";
import { update } from "../state.js";
import { breakdown } from "./breakdown.js";

/** The picker of the property key: one per panel, so it keeps focus across renders. */
function keyPicker() {
  const select = h("select", { name: "prop", onchange: () => update({ prop: select.value }) });
  const form = h("form", { class: "prop-form", onsubmit: (e) => e.preventDefault() }, h("label", {}, "Property key ", select));
  let shown = null;
  return (state) => {
    if (shown !== state.site) {
      shown = state.site;
      select.replaceChildren(h("option", { value: state.prop }, state.prop || "Choose a key"));
      cached("property-keys", state.site, () => propertyKeys(state.site)).then(
        (keys) => {
          const current = state.prop && !keys.includes(state.prop) ? [state.prop] : [];
          select.replaceChildren(h("option", { value: "" }, keys.length ? "Choose a key" : "No property sent lately"), ...[...current, ...keys].map((k) => h("option", { value: k }, k)));
          select.value = state.prop;
        },
        () => (shown = null),
      );
    }
    select.value = state.prop;
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
        prompt: keyPicker(),
        ask: "Choose a property key above (one your custom events send, e.g. plan) to see its values.",
        metrics: ["visitors", "events"],
      },
    ],
  });
