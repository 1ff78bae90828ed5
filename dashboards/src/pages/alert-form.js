// The form that creates or edits an alert rule (sql/ALERTS.md's JSON): metric, an
// optional filter, the window, the condition (a threshold above/below, a change in
// percent, or an anomaly against past weeks), the cooldown and the channels (a webhook
// URL, an email address). Only the inputs of the chosen condition are shown and sent.

import { h } from "../dom.js";
import { LABELS } from "../dimensions.js";
import { field, form } from "./form.js";

const METRICS = ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration", "views_per_visit", "conversion_rate", "percentage", "total_revenue", "average_revenue"];
const CONDITIONS = { above: "Above a threshold", below: "Below a threshold", change_pct: "Changes by % (vs. the window before)", anomaly: "Anomaly (vs. past weeks)" };
const DIRECTIONS = { both: "Up or down", up: "Up", down: "Down" };

const options = (entries) => Object.entries(entries).map(([value, text]) => h("option", { value }, text));
const number = (name, attrs = {}) => h("input", { type: "number", name, step: "any", inputmode: "decimal", ...attrs });

/**
 * The form for `rule` (null: a new one). `save(body)` sends it and throws the API's error
 * (shown at its field); `cancel()` leaves the form.
 */
export function alertForm(rule, save, cancel) {
  const input = {
    name: h("input", { type: "text", name: "name", required: true }),
    metric: h("select", { name: "metric" }, METRICS.map((m) => h("option", { value: m }, m))),
    dimension: h("select", { name: "filter_dimension", "aria-label": "Filter dimension" }, h("option", { value: "" }, "No filter"), options(LABELS)),
    value: h("input", { type: "text", name: "filter_value", placeholder: "value", "aria-label": "Filter value" }),
    window_minutes: number("window_minutes", { min: 1, max: 1440, step: 1, required: true }),
    condition: h("select", { name: "condition" }, options(CONDITIONS)),
    threshold: number("threshold"),
    direction: h("select", { name: "direction" }, options(DIRECTIONS)),
    weeks: number("weeks", { min: 2, max: 12, step: 1 }),
    sensitivity: number("sensitivity", { min: 0.5, max: 20 }),
    cooldown_minutes: number("cooldown_minutes", { min: 0, step: 1 }),
    webhook: h("input", { type: "url", name: "webhook", placeholder: "https://hooks.example.com/tally", inputmode: "url" }),
    email: h("input", { type: "email", name: "email", placeholder: "oncall@example.com" }),
    enabled: h("input", { type: "checkbox", name: "enabled" }),
  };
  const webhookField = field("Webhook URL", input.webhook, "channels[0]");
  const emailField = field("Email", input.email, "channels[1]");
  const only = {
    threshold: field("Threshold", input.threshold),
    direction: field("Direction", input.direction),
    weeks: field("Weeks compared", input.weeks),
    sensitivity: field("Sensitivity (σ)", input.sensitivity),
  };
  const webhookSecret = () => rule?.channels?.find((c) => c.type === "webhook" && c.url === input.webhook.value.trim())?.secret;

  function showCondition() {
    const c = input.condition.value;
    only.threshold.hidden = c === "anomaly";
    only.direction.hidden = !["change_pct", "anomaly"].includes(c);
    only.weeks.hidden = only.sensitivity.hidden = c !== "anomaly";
  }
  input.condition.addEventListener("change", showCondition);

  input.name.value = rule?.name ?? "";
  input.metric.value = rule?.metric ?? "visitors";
  const [filter] = rule?.filters ?? [];
  input.dimension.value = filter?.[1] ?? "";
  input.value.value = filter?.[2]?.[0] ?? "";
  input.window_minutes.value = rule?.window_minutes ?? 15;
  input.condition.value = rule?.condition ?? "above";
  input.threshold.value = rule?.threshold ?? "";
  input.direction.value = rule?.direction ?? "both";
  input.weeks.value = rule?.weeks ?? 4;
  input.sensitivity.value = rule?.sensitivity ?? 5;
  input.cooldown_minutes.value = rule?.cooldown_minutes ?? 60;
  input.webhook.value = rule?.channels?.find((c) => c.type === "webhook")?.url ?? "";
  input.email.value = rule?.channels?.find((c) => c.type === "email")?.to ?? "";
  input.enabled.checked = rule?.enabled ?? true;
  showCondition();

  /** The rule's JSON from the inputs; channel fields are renamed to their index. */
  function body() {
    const c = input.condition.value;
    const rule = {
      name: input.name.value.trim(),
      metric: input.metric.value,
      filters: input.dimension.value ? [["is", input.dimension.value, [input.value.value]]] : [],
      window_minutes: Number(input.window_minutes.value),
      condition: c,
      cooldown_minutes: Number(input.cooldown_minutes.value),
      channels: [],
      enabled: input.enabled.checked,
    };
    if (c !== "anomaly") rule.threshold = input.threshold.value === "" ? null : Number(input.threshold.value);
    if (c === "change_pct" || c === "anomaly") rule.direction = input.direction.value;
    if (c === "anomaly") Object.assign(rule, { weeks: Number(input.weeks.value), sensitivity: Number(input.sensitivity.value) });
    if (rule.threshold === null) delete rule.threshold;
    const url = input.webhook.value.trim();
    const to = input.email.value.trim();
    webhookField.dataset.field = emailField.dataset.field = "";
    if (url) {
      webhookField.dataset.field = `channels[${rule.channels.length}]`;
      rule.channels.push({ type: "webhook", url, ...(webhookSecret() ? { secret: webhookSecret() } : {}) });
    }
    if (to) {
      emailField.dataset.field = `channels[${rule.channels.length}]`;
      rule.channels.push({ type: "email", to });
    }
    return rule;
  }

  const cancelButton = h("button", { type: "button", class: "link", onclick: cancel }, "Cancel");
  const element = form(
    { id: "alert-form" },
    [
      h("h3", {}, rule ? `Edit “${rule.name}”` : "New alert rule"),
      h(
        "div",
        { class: "form-grid" },
        field("Name", input.name),
        field("Metric", input.metric),
        field("Filter (optional)", h("div", { class: "pair" }, input.dimension, input.value), "filters"),
        field("Window (minutes)", input.window_minutes),
        field("Condition", input.condition),
        only.threshold,
        only.direction,
        only.weeks,
        only.sensitivity,
        field("Cooldown (minutes)", input.cooldown_minutes),
        webhookField,
        emailField,
        h("label", { class: "check" }, input.enabled, " Enabled"),
      ),
    ],
    rule ? "Save rule" : "Create rule",
    () => save(body()),
  );
  element.querySelector(".form-actions").append(cancelButton);
  return element;
}
