// The site switcher: the sites the signed-in user may see (from the session).

import { h } from "../dom.js";
import { update } from "../state.js";

export function siteSwitcher() {
  const select = h("select", { name: "site", "aria-label": "Site" });
  select.addEventListener("change", () => update({ site: select.value, filters: [] }));
  const element = h("label", { class: "site-switcher" }, select);
  function render(state, sites) {
    select.replaceChildren(...sites.map((s) => h("option", { value: s.domain }, s.domain)));
    select.value = state.site;
    select.disabled = sites.length < 2;
  }
  return { element, render };
}
