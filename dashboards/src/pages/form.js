// What every admin page's forms and row buttons share: labelled inputs, and a refused
// request's message shown next to the input its `field` names (a 400 from the gateway),
// or under the form when it names none of them.

import { h } from "../dom.js";

let fieldIds = 0;

/**
 * A labelled input, or a group of inputs. `fieldName` is the request field it fills
 * (`data-field`; it may change later, e.g. to `channels[1]` when the channels before it
 * change); a 400 naming that field or a part of it (`channels[0].url`) shows its
 * message under this input, which is then marked invalid and described by it.
 */
export function field(label, input, fieldName = input.name) {
  const id = `field-${++fieldIds}`;
  const error = h("span", { class: "field-error", id: `${id}-error`, role: "alert", hidden: true });
  const labelled = ["INPUT", "SELECT", "TEXTAREA"].includes(input.tagName);
  const title = h("span", { class: "field-label", id: `${id}-label` }, label);
  // One input: its label. Several (a dimension and a value): a named group.
  const control = labelled ? h("label", { class: "field-control" }, title, input) : h("div", { class: "field-control", role: "group", "aria-labelledby": title.id }, title, input);
  return h("div", { class: "field", "data-field": fieldName }, control, error);
}

function names(field, error) {
  return error === field || error.startsWith(`${field}.`) || error.startsWith(`${field}[`);
}

/** The inputs of a field, marked (or no longer marked) as refused. */
function markInvalid(fieldEl, invalid) {
  const error = fieldEl.querySelector(".field-error");
  for (const input of fieldEl.querySelectorAll("input, select, textarea")) {
    if (invalid) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", error.id);
    } else {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
  }
}

/**
 * A form whose submit runs `onSubmit()`: the button is disabled meanwhile and an error
 * lands next to its field (or in the form's message), and focus moves to the refused
 * input. Returns the `<form>`.
 */
export function form(attrs, children, submitLabel, onSubmit) {
  const message = h("p", { class: "error form-error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", class: "primary" }, submitLabel);
  const el = h("form", { class: "admin-form", ...attrs }, children, message, h("div", { class: "form-actions" }, button));
  el.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const span of el.querySelectorAll(".field-error")) span.hidden = true;
    for (const f of el.querySelectorAll(".field")) markInvalid(f, false);
    message.hidden = true;
    button.disabled = true;
    try {
      await onSubmit();
    } catch (err) {
      // The most precise field named: `steps[1]` rather than the `steps` around it.
      const named = err.field ? [...el.querySelectorAll("[data-field]")].filter((f) => names(f.dataset.field, err.field)) : [];
      const at = named.sort((a, b) => b.dataset.field.length - a.dataset.field.length)[0];
      const target = at ? at.querySelector(".field-error") : message;
      target.textContent = err.message;
      target.hidden = false;
      if (at) {
        markInvalid(at, true);
        at.querySelector("input, select, textarea")?.focus();
      }
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

/** A row button running `action()`; its failure shows in `status` (a page's message line). */
export function button(label, action, status, attrs = {}) {
  const el = h("button", { type: "button", class: "small", ...attrs }, label);
  el.addEventListener("click", async () => {
    el.disabled = true;
    status.hidden = true;
    try {
      await action();
    } catch (err) {
      status.textContent = err.message;
      status.hidden = false;
    } finally {
      el.disabled = false;
    }
  });
  return el;
}

/** A table (`headers`, rows of cells) that scrolls sideways inside itself on a phone. */
export function table(headers, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "admin-table", ...attrs },
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows),
    ),
  );
}

/** A secret shown once (a new key): selectable, with a note that it will not be shown again. */
export function shownOnce(what, secret) {
  return h(
    "div",
    { class: "shown-once", role: "status" },
    h("p", {}, `The new ${what}, shown only this once:`),
    h("code", { class: "secret" }, secret),
  );
}

/** An ISO time as the browser's local date and time. */
export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

/**
 * A page's first load: `load()` fills it; its failure shows in `status`. Every load
 * (also after an action) calls `loaded(element)`, which counts up `data-loaded` for tests.
 * Until the first load ends the page shows only its heading and "Loading…"
 * (`aria-busy`), then all of it at once: lists filled in one by one would push the
 * forms below them down the page.
 */
export async function firstLoad(status, what, load) {
  const page = status.closest(".page");
  status.hidden = true;
  page.setAttribute("aria-busy", "true");
  try {
    await load();
  } catch (err) {
    status.textContent = `Could not load ${what}: ${err.message}`;
    status.hidden = false;
  } finally {
    page.removeAttribute("aria-busy");
  }
}

export function loaded(element) {
  element.dataset.loaded = String(Number(element.dataset.loaded || 0) + 1);
}
