// The segment picker above the stats: the site's saved segments (the user's own and
// those shared with the site's members) filter the whole dashboard as
// `["is", "segment", [id]]`; the filters in use can be saved as a new segment, for
// oneself or shared (analysts and admins), its name and sharing refused at the field.

import * as api from "../api.js";
import { h } from "../dom.js";
import { cached, forget } from "../lists.js";
import { field, form } from "../pages/form.js";
import { update } from "../state.js";

export function segmentBar() {
  const select = h("select", { name: "segment", onchange: () => choose(select.value) });
  const status = h("p", { class: "error", role: "alert", hidden: true });
  const saveButton = h("button", { type: "button", class: "small save-segment", onclick: () => openForm() }, "Save filters as segment");
  const deleteButton = h("button", { type: "button", class: "small danger delete-segment", onclick: () => remove() }, "Delete segment");
  const editor = h("div", { class: "segment-editor" });
  const element = h("div", { class: "segments", role: "group", "aria-label": "Segments" }, h("div", { class: "segment-row" }, h("label", {}, "Segment ", select), saveButton, deleteButton), status, editor);
  let current = null;
  let list = [];

  const segmentOf = (state) => state.filters.find((f) => f.dimension === "segment")?.value ?? "";
  const others = (state) => state.filters.filter((f) => f.dimension !== "segment");

  function choose(id) {
    const filters = others(current);
    update({ filters: id ? [...filters, { op: "is", dimension: "segment", value: id }] : filters });
  }

  async function remove() {
    const chosen = list.find((s) => String(s.id) === segmentOf(current));
    if (!chosen || !confirm(`Delete the segment “${chosen.name}”?`)) return;
    status.hidden = true;
    try {
      await api.deleteSegment(current.site, chosen.id);
      forget(current.site, "segments");
      choose("");
    } catch (err) {
      status.textContent = err.message;
      status.hidden = false;
    }
  }

  function openForm() {
    const name = h("input", { type: "text", name: "name", required: true, maxlength: 120 });
    const shared = h("input", { type: "checkbox", name: "shared" });
    const filters = others(current);
    const saving = form(
      { id: "segment-form" },
      [
        h("div", { class: "form-grid" }, field("Segment name", name), field("Filters", h("p", { class: "segment-filters" }, `${filters.length} filter${filters.length === 1 ? "" : "s"} in use`), "filters")),
        h("div", { class: "field", "data-field": "shared" }, h("label", { class: "check" }, shared, " Share with the site's members"), h("span", { class: "field-error", role: "alert", hidden: true })),
      ],
      "Save segment",
      async () => {
        const body = { name: name.value, filters: filters.map((f) => [f.op, f.dimension, [f.value]]), shared: shared.checked };
        const created = await api.createSegment(current.site, body);
        forget(current.site, "segments");
        editor.replaceChildren();
        update({ filters: [{ op: "is", dimension: "segment", value: String(created.id) }] });
      },
    );
    saving.querySelector(".form-actions").append(h("button", { type: "button", class: "link", onclick: () => editor.replaceChildren() }, "Cancel"));
    editor.replaceChildren(saving);
    name.focus();
  }

  async function render(state) {
    if (current?.site !== state.site) editor.replaceChildren();
    current = state;
    const chosen = segmentOf(state);
    saveButton.hidden = others(state).length === 0;
    deleteButton.hidden = !chosen;
    try {
      list = await cached("segments", state.site, () => api.segments(state.site));
      status.hidden = true;
    } catch (err) {
      list = [];
      status.textContent = `Could not load the segments: ${err.message}`;
      status.hidden = false;
    }
    if (current !== state) return;
    const known = list.some((s) => String(s.id) === chosen);
    select.replaceChildren(
      h("option", { value: "" }, "All visitors"),
      ...(chosen && !known ? [h("option", { value: chosen }, `Segment ${chosen}`)] : []),
      ...list.map((s) => h("option", { value: String(s.id) }, s.shared ? s.name : `${s.name} (only me)`)),
    );
    select.value = chosen;
  }
  return { element, render };
}
