// Email reports: the signed-in user's scheduled reports (weekly or monthly, the site's
// KPIs and top tables with the PDF attached), a form for a new one of the current site,
// and removing one. Every email also has a one-click unsubscribe link.

import * as api from "../api.js";
import { h } from "../dom.js";
import { button, field, firstLoad, form, loaded, table, when } from "./form.js";

/** `siteOf(domain)` is the session's site of that domain (its id and time zone). */
export function reportsPage(siteOf) {
  const status = h("p", { class: "error", role: "alert", hidden: true });
  const list = h("div", { class: "report-schedules" });
  const frequency = h("select", { name: "frequency" }, h("option", { value: "weekly" }, "Weekly (Monday to Sunday)"), h("option", { value: "monthly" }, "Monthly"));
  const timezone = h("input", { type: "text", name: "timezone", required: true, autocapitalize: "off" });
  const hour = h("input", { type: "number", name: "hour", min: "0", max: "23", value: "8", required: true });
  let site = null;
  const create = form(
    { id: "report-form" },
    [h("h3", {}, "New email report"), h("div", { class: "form-grid" }, field("Every", frequency), field("Time zone", timezone), field("At (hour)", hour))],
    "Schedule",
    async () => {
      await api.createReportSchedule({ site_id: site.id, frequency: frequency.value, timezone: timezone.value.trim(), hour: Number(hour.value) });
      await load();
    },
  );
  const element = h("section", { class: "page", id: "page-reports" }, h("header", { class: "page-head" }, h("h2", {}, "Email reports")), status, list, create);

  async function load() {
    const schedules = await api.reportSchedules();
    list.replaceChildren(
      schedules.length
        ? table(
            ["Site", "Every", "Next email", "Last error", "Actions"],
            schedules.map((s) => {
              const remove = async () => {
                await api.deleteReportSchedule(s.id);
                await load();
              };
              return h(
                "tr",
                { "data-schedule-id": s.id },
                h("td", {}, siteOf(null, s.site_id)?.domain ?? `site ${s.site_id}`),
                h("td", {}, s.frequency),
                h("td", {}, `${when(s.next_due_at)} (${s.timezone} ${String(s.hour).padStart(2, "0")}:00)`),
                h("td", {}, s.last_error ?? ""),
                h("td", {}, button("Remove", remove, status, { class: "small danger" })),
              );
            }),
          )
        : h("p", { class: "empty" }, "No email report yet: schedule one below and it arrives after each week or month."),
    );
    loaded(element);
  }

  function render(state) {
    site = siteOf(state.site);
    timezone.value = site?.timezone ?? "UTC";
    return firstLoad(status, "your email reports", load);
  }
  return { element, render };
}
