// The alerts page of the current site (analysts and admins): its rules, each with edit,
// "send test" (every channel's outcome), mute until a time (or unmute) and delete; the
// form for a new rule; and the history of firings and resolutions.

import * as api from "../api.js";
import { h } from "../dom.js";
import { alertForm } from "./alert-form.js";
import { button, firstLoad, loaded, table, when } from "./form.js";

/** One line saying what a rule watches, e.g. "visitors over 15 min above 100". */
function summary(rule) {
  const filter = rule.filters?.length ? ` where ${rule.filters.map((f) => `${f[1]} ${f[0]} ${f[2].join(", ")}`).join(" and ")}` : "";
  const test = {
    above: `above ${rule.threshold}`,
    below: `below ${rule.threshold}`,
    change_pct: `changes ${rule.direction} by ${rule.threshold}%`,
    anomaly: `anomaly ${rule.direction} (${rule.weeks} weeks, ${rule.sensitivity}σ)`,
  }[rule.condition];
  const channels = rule.channels.map((c) => c.url || c.to).join(", ") || "no channel";
  return `${rule.metric}${filter} over ${rule.window_minutes} min ${test} · cooldown ${rule.cooldown_minutes} min · → ${channels}`;
}

/** A `datetime-local` value one day from now, the mute input's suggestion. */
function tomorrow() {
  const d = new Date(Date.now() + 86400000 - new Date().getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

export function alertsPage() {
  const status = h("p", { class: "error", role: "alert", hidden: true });
  const editor = h("div", { class: "editor" });
  const list = h("ul", { class: "rules" });
  const history = h("div", { class: "history" });
  const newButton = h("button", { type: "button", class: "primary", id: "new-rule" }, "New rule");
  const element = h(
    "section",
    { class: "page", id: "page-alerts" },
    h("header", { class: "page-head" }, h("h2", {}, "Alerts"), newButton),
    status,
    editor,
    list,
    h("h3", {}, "History"),
    history,
  );
  let site = "";

  function edit(rule) {
    const save = async (body) => {
      await (rule ? api.updateAlertRule(rule.id, body) : api.createAlertRule(site, body));
      editor.replaceChildren();
      await load();
    };
    editor.replaceChildren(alertForm(rule, save, () => editor.replaceChildren()));
    editor.querySelector("input[name=name]").focus();
  }
  newButton.addEventListener("click", () => edit(null));

  function ruleItem(rule) {
    const results = h("ul", { class: "test-results" });
    const until = h("input", { type: "datetime-local", name: "mute_until", value: tomorrow(), "aria-label": "Mute until" });
    const muted = rule.muted_until && new Date(rule.muted_until) > new Date();
    const sendTest = async () => {
      const outcome = await api.testAlertRule(rule.id);
      results.replaceChildren(
        ...outcome.map((r) =>
          h("li", { class: r.ok ? "ok" : "failed", "data-ok": String(r.ok) }, `${r.channel.url || r.channel.to}: `, h("strong", {}, r.ok ? "ok" : "error"), r.error ? ` ${r.error}` : ""),
        ),
      );
    };
    const mute = async () => {
      if (!until.value) throw new Error("choose the time to mute until");
      await api.muteAlertRule(rule.id, new Date(until.value).toISOString());
      await load();
    };
    const unmute = async () => {
      await api.muteAlertRule(rule.id, null);
      await load();
    };
    const remove = async () => {
      if (!confirm(`Delete the rule “${rule.name}”?`)) return;
      await api.deleteAlertRule(rule.id);
      await load();
    };
    return h(
      "li",
      { class: "rule", "data-rule-id": rule.id, "data-muted": String(Boolean(muted)) },
      h(
        "div",
        { class: "rule-head" },
        h("strong", {}, rule.name),
        rule.enabled ? null : h("span", { class: "badge" }, "disabled"),
        muted ? h("span", { class: "badge muted" }, `muted until ${when(rule.muted_until)}`) : null,
        rule.state?.status ? h("span", { class: `badge ${rule.state.status}` }, rule.state.status) : null,
      ),
      h("p", { class: "rule-summary" }, summary(rule)),
      h(
        "div",
        { class: "actions" },
        button("Edit", async () => edit(rule), status, { class: "small edit" }),
        button("Send test", sendTest, status, { class: "small test" }),
        muted
          ? button("Unmute", unmute, status, { class: "small unmute" })
          : h("span", { class: "mute" }, until, button("Mute", mute, status, { class: "small mute-button" })),
        button("Delete", remove, status, { class: "small danger delete" }),
      ),
      results,
    );
  }

  async function load() {
    const [rules, events] = await Promise.all([api.alertRules(site), api.alertHistory(site)]);
    const names = new Map(rules.map((r) => [r.id, r.name]));
    list.replaceChildren(...(rules.length ? rules.map(ruleItem) : [h("li", { class: "empty" }, "No alert rule yet.")]));
    history.replaceChildren(
      events.length
        ? table(
            ["Time", "Rule", "Status", "Value", "Baseline"],
            events.map((e) =>
              h(
                "tr",
                {},
                h("td", {}, when(e.at)),
                h("td", {}, names.get(e.rule_id) ?? `#${e.rule_id}`),
                h("td", {}, e.status),
                h("td", { class: "num" }, e.value ?? ""),
                h("td", { class: "num" }, e.baseline ?? ""),
              ),
            ),
          )
        : h("p", { class: "empty" }, "No alert has fired yet."),
    );
    loaded(element);
  }

  async function render(state) {
    site = state.site;
    editor.replaceChildren();
    return firstLoad(status, "the alerts", load);
  }
  return { element, render };
}
