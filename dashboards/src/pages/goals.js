// The goals page of the current site (analysts and admins): its goals (an event name,
// or a page pattern; an event goal with a currency counts revenue) and its funnels
// (2 to 8 goals in order), each with edit and delete, and a form for a new one. A
// refused field's message shows next to its input.

import * as api from "../api.js";
import { h } from "../dom.js";
import { forget } from "../lists.js";
import { button, field, firstLoad, form, loaded, table } from "./form.js";

/** Most steps of a funnel (tally.funnels). */
const MAX_STEPS = 8;

/** The form for `goal` (null: a new one); `save(body)` sends it, `cancel()` leaves. */
function goalForm(goal, save, cancel) {
  const input = {
    name: h("input", { type: "text", name: "name", required: true, maxlength: 120 }),
    kind: h("select", { name: "kind" }, h("option", { value: "event" }, "A custom event"), h("option", { value: "page" }, "A pageview")),
    event_name: h("input", { type: "text", name: "event_name", placeholder: "Signup" }),
    page_pattern: h("input", { type: "text", name: "page_pattern", placeholder: "/pricing or /blog/*" }),
    currency: h("input", { type: "text", name: "currency", placeholder: "EUR", maxlength: 3, autocapitalize: "characters", autocomplete: "off" }),
  };
  const eventField = field("Event name", input.event_name);
  const pageField = field("Page pattern (* for any characters)", input.page_pattern);
  const currencyField = field("Revenue currency (optional, ISO 4217)", input.currency);
  const showKind = () => {
    const page = input.kind.value === "page";
    pageField.hidden = !page;
    eventField.hidden = currencyField.hidden = page;
  };
  input.kind.addEventListener("change", showKind);
  input.name.value = goal?.name ?? "";
  input.kind.value = goal?.page_pattern ? "page" : "event";
  input.event_name.value = goal?.event_name ?? "";
  input.page_pattern.value = goal?.page_pattern ?? "";
  input.currency.value = goal?.currency ?? "";
  showKind();
  const body = () =>
    input.kind.value === "page"
      ? { name: input.name.value, page_pattern: input.page_pattern.value }
      : { name: input.name.value, event_name: input.event_name.value, currency: input.currency.value || null };
  const element = form(
    { id: "goal-form" },
    [h("h3", {}, goal ? `Edit goal “${goal.name}”` : "New goal"), h("div", { class: "form-grid" }, field("Name", input.name), field("Met by", input.kind), eventField, pageField, currencyField)],
    goal ? "Save goal" : "Create goal",
    () => save(body()),
  );
  element.querySelector(".form-actions").append(h("button", { type: "button", class: "link", onclick: cancel }, "Cancel"));
  return element;
}

/** The form for `funnel` (null: a new one) over the site's `goals`. */
function funnelForm(funnel, goals, save, cancel) {
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 120 });
  name.value = funnel?.name ?? "";
  const steps = h("ol", { class: "steps" });
  const addButton = h("button", { type: "button", class: "small add-step" }, "Add step");
  const removeButton = h("button", { type: "button", class: "small remove-step" }, "Remove last step");
  const addStep = (value) => {
    const i = steps.children.length;
    const select = h("select", { name: `step-${i}` }, h("option", { value: "" }, "Choose a goal"), goals.map((g) => h("option", { value: g.name }, g.name)));
    select.value = value ?? "";
    steps.append(h("li", {}, field(`Step ${i + 1}`, select, `steps[${i}]`)));
    addButton.disabled = steps.children.length >= MAX_STEPS;
    removeButton.disabled = steps.children.length <= 2;
  };
  addButton.addEventListener("click", () => addStep());
  removeButton.addEventListener("click", () => {
    steps.lastElementChild?.remove();
    addButton.disabled = false;
    removeButton.disabled = steps.children.length <= 2;
  });
  for (const step of funnel?.steps ?? ["", ""]) addStep(step);
  const body = () => ({ name: name.value, steps: [...steps.querySelectorAll("select")].map((s) => s.value) });
  const element = form(
    { id: "funnel-form" },
    [
      h("h3", {}, funnel ? `Edit funnel “${funnel.name}”` : "New funnel"),
      h("div", { class: "form-grid" }, field("Name", name)),
      h("div", { class: "field", "data-field": "steps" }, steps, h("div", { class: "actions" }, addButton, removeButton), h("span", { class: "field-error", role: "alert", hidden: true })),
    ],
    funnel ? "Save funnel" : "Create funnel",
    () => save(body()),
  );
  element.querySelector(".form-actions").append(h("button", { type: "button", class: "link", onclick: cancel }, "Cancel"));
  return element;
}

/** What meets a goal, in words. */
function target(goal) {
  if (goal.page_pattern) return `Pageview of ${goal.page_pattern}`;
  return goal.currency ? `Event ${goal.event_name}, revenue in ${goal.currency}` : `Event ${goal.event_name}`;
}

export function goalsPage() {
  const status = h("p", { class: "error", role: "alert", hidden: true });
  const editor = h("div", { class: "editor" });
  const goalList = h("div", { class: "goal-list" });
  const funnelList = h("div", { class: "funnel-list" });
  const newGoal = h("button", { type: "button", class: "primary", id: "new-goal" }, "New goal");
  const newFunnel = h("button", { type: "button", class: "primary", id: "new-funnel" }, "New funnel");
  const element = h(
    "section",
    { class: "page", id: "page-goals" },
    h("header", { class: "page-head" }, h("h2", {}, "Goals and funnels"), h("div", { class: "actions" }, newGoal, newFunnel)),
    status,
    editor,
    h("h3", {}, "Goals"),
    goalList,
    h("h3", {}, "Funnels"),
    funnelList,
  );
  let site = "";
  let goals = [];

  const done = async () => {
    forget(site, "funnels");
    editor.replaceChildren();
    await load();
  };
  function open(formElement) {
    editor.replaceChildren(formElement);
    formElement.querySelector("input[name=name]").focus();
  }
  const editGoal = (goal) => open(goalForm(goal, async (body) => (await api.saveGoal(site, goal?.name, body), done()), () => editor.replaceChildren()));
  const editFunnel = (funnel) => open(funnelForm(funnel, goals, async (body) => (await api.saveFunnel(site, funnel?.name, body), done()), () => editor.replaceChildren()));
  newGoal.addEventListener("click", () => editGoal(null));
  newFunnel.addEventListener("click", () => editFunnel(null));

  async function load() {
    let funnels;
    [goals, funnels] = await Promise.all([api.goals(site), api.funnels(site)]);
    const remove = (what, name, action) => async () => {
      if (!confirm(`Delete the ${what} “${name}”?`)) return;
      await action();
      forget(site, "funnels");
      await load();
    };
    goalList.replaceChildren(
      goals.length
        ? table(
            ["Goal", "Met by", "Actions"],
            goals.map((g) =>
              h(
                "tr",
                { "data-goal": g.name },
                h("td", {}, g.name),
                h("td", {}, target(g)),
                h("td", { class: "actions" }, button("Edit", async () => editGoal(g), status, { class: "small edit" }), button("Delete", remove("goal", g.name, () => api.deleteGoal(site, g.name)), status, { class: "small danger delete" })),
              ),
            ),
          )
        : h("p", { class: "empty" }, "No goal yet: a goal is met by a custom event or by a pageview."),
    );
    funnelList.replaceChildren(
      funnels.length
        ? table(
            ["Funnel", "Steps", "Actions"],
            funnels.map((f) =>
              h(
                "tr",
                { "data-funnel": f.name },
                h("td", {}, f.name),
                h("td", {}, f.steps.join(" → ")),
                h("td", { class: "actions" }, button("Edit", async () => editFunnel(f), status, { class: "small edit" }), button("Delete", remove("funnel", f.name, () => api.deleteFunnel(site, f.name)), status, { class: "small danger delete" })),
              ),
            ),
          )
        : h("p", { class: "empty" }, goals.length < 2 ? "No funnel yet: define two goals or more first." : "No funnel yet."),
    );
    newFunnel.disabled = goals.length < 2;
    loaded(element);
  }

  async function render(state) {
    site = state.site;
    editor.replaceChildren();
    return firstLoad(status, "the goals", load);
  }
  return { element, render };
}
