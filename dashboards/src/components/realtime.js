// "N current visitors": the visitors of the last five minutes, pushed by the gateway
// over server-sent events and updated in place as they arrive.

import { realtime } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";

export function realtimeCount() {
  const count = h("strong", { "data-value": "" }, "–");
  const noun = h("span", {}, " current visitors");
  const element = h("span", { class: "realtime", title: "Visitors in the last 5 minutes" }, h("span", { class: "dot", "aria-hidden": "true" }), count, noun);
  let close = () => {};
  let site = null;

  /** Follows `state.site`: reconnects when the site changes. */
  function render(state) {
    if (state.site === site) return;
    close();
    site = state.site;
    count.textContent = "–";
    close = realtime(
      site,
      (n) => {
        count.dataset.value = n;
        count.textContent = format.number(n);
        noun.textContent = n === 1 ? " current visitor" : " current visitors";
        element.classList.remove("stale");
      },
      () => element.classList.add("stale"),
    );
  }
  function stop() {
    close();
    site = null;
  }
  return { element, render, stop };
}
