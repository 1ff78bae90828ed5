// The active filters as removable chips ("Country is DE ×"); the whole dashboard is
// filtered by them. Rows add them (see panels/breakdown.js).

import { label } from "../dimensions.js";
import { h } from "../dom.js";
import { update } from "../state.js";

const OPS = { is: "is", is_not: "is not", contains: "contains", matches: "matches" };

export function filterBar() {
  const list = h("ul", { class: "chips" });
  // The place of a chip just removed: the focus goes to the chip now there, or to the
  // report (the page's main region) when none is left, not back to the page's top.
  let removed = null;
  const element = h("div", { class: "filters", role: "group", "aria-label": "Active filters" }, list);
  function render(state) {
    // A saved segment shows in the segment picker (components/segments.js), not as a chip.
    const shown = state.filters.map((f, i) => [f, i]).filter(([f]) => f.dimension !== "segment");
    element.hidden = shown.length === 0;
    const chips = shown.map(([f, i]) => {
      const text = `${label(f.dimension)} ${OPS[f.op] || f.op} ${f.value}`;
      return h(
        "li",
        { class: "chip", "data-dimension": f.dimension, "data-value": f.value, title: text },
        `${label(f.dimension)} ${OPS[f.op] || f.op} `,
        h("strong", {}, f.value),
        h(
          "button",
          {
            type: "button",
            class: "remove",
            "aria-label": `Remove filter ${text}`,
            onclick: () => {
              removed = i;
              update({ filters: state.filters.filter((_, j) => j !== i) });
            },
          },
          "×",
        ),
      );
    });
    list.replaceChildren(...chips);
    const clear = shown.length > 1 ? h("button", { type: "button", class: "link", onclick: () => update({ filters: state.filters.filter((f) => f.dimension === "segment") }) }, "Clear all") : null;
    element.replaceChildren(list, ...(clear ? [clear] : []));
    if (removed !== null) {
      const buttons = list.querySelectorAll(".remove");
      (buttons[Math.min(removed, buttons.length - 1)] ?? document.querySelector("main"))?.focus();
      removed = null;
    }
  }
  return { element, render };
}
