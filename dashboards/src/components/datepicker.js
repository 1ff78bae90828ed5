// The date range picker (today, 7 and 30 days, this month and year, a custom range,
// realtime) and the comparison it is measured against.

import { h } from "../dom.js";
import { COMPARISONS, PERIODS, update } from "../state.js";

const today = () => new Date().toISOString().slice(0, 10);

export function datePicker() {
  const period = h(
    "select",
    { name: "period", "aria-label": "Date range" },
    Object.entries(PERIODS).map(([key, p]) => h("option", { value: key }, p.label)),
  );
  const from = h("input", { type: "date", name: "from", "aria-label": "From" });
  const to = h("input", { type: "date", name: "to", "aria-label": "To" });
  const apply = h("button", { type: "submit" }, "Apply");
  const custom = h(
    "form",
    { class: "custom-range", onsubmit: (e) => (e.preventDefault(), from.value && to.value && update({ period: "custom", from: from.value, to: to.value })) },
    from,
    "–",
    to,
    apply,
  );
  const compare = h(
    "select",
    { name: "compare", "aria-label": "Compare with" },
    Object.entries(COMPARISONS).map(([key, label]) => h("option", { value: key }, label)),
  );
  period.addEventListener("change", () => {
    if (period.value !== "custom") return update({ period: period.value });
    // A custom range needs its dates first: open the form with the last 30 days.
    custom.hidden = false;
    to.value ||= today();
    from.value ||= new Date(Date.now() - 29 * 86400e3).toISOString().slice(0, 10);
  });
  compare.addEventListener("change", () => update({ compare: compare.value }));
  const element = h("div", { class: "date-picker" }, period, custom, compare);

  function render(state) {
    period.value = state.period;
    custom.hidden = state.period !== "custom";
    from.value = state.from;
    to.value = state.to;
    compare.value = state.compare;
    compare.disabled = state.period === "realtime";
  }
  return { element, render };
}
