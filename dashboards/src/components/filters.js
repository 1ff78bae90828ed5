// The active filters as removable chips ("Country is DE ×"); the whole dashboard is
// filtered by them. Rows add them (see panels/breakdown.js).

import { label } from "../dimensions.js";
import { h } from "../dom.js";
import { update } from "../state.js";

const OPS = { is: "is", is_not: "is not", contains: "contains", matches: "matches" };

export function filterBar() {
  const element = h("div", { class: "filters", "aria-label": "Filters" });
  function render(state) {
    element.hidden = state.filters.length === 0;
    const chips = state.filters.map((f, i) =>
      h(
        "span",
        { class: "chip", "data-dimension": f.dimension, "data-value": f.value },
        `${label(f.dimension)} ${OPS[f.op] || f.op} `,
        h("strong", {}, f.value),
        h(
          "button",
          {
            type: "button",
            class: "remove",
            "aria-label": `Remove filter ${label(f.dimension)}`,
            onclick: () => update({ filters: state.filters.filter((_, j) => j !== i) }),
          },
          "×",
        ),
      ),
    );
    const clear = h("button", { type: "button", class: "link", onclick: () => update({ filters: [] }) }, "Clear all");
    element.replaceChildren(...chips, state.filters.length > 1 ? clear : "");
  }
  return { element, render };
}
