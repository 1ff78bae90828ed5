// The imports toggle: for a site with imported data (a Plausible export, GA4 reports),
// whether the figures include it, as Plausible's dashboard offers. Shown only for such
// a site; the choice is the URL's `imports=on` like the rest of the view.

import { h } from "../dom.js";
import { update } from "../state.js";

export function importsToggle() {
  const input = h("input", { type: "checkbox", name: "imports" });
  input.addEventListener("change", () => update({ imports: input.checked }));
  const element = h("label", { class: "imports-toggle", hidden: true }, input, "Imported data");

  /** `site`: the current site as the session lists it (`has_imports`), null off the stats. */
  function render(state, site) {
    element.hidden = !site?.has_imports;
    input.checked = state.imports;
  }
  return { element, render };
}
