// The frame every report panel shares: a title, optional tabs, a CSV export button, an
// optional lead (a form above the report) and a body that shows the report, a skeleton
// while the first answer is on its way, or the error that made it fail (an API error
// shows in the panel that asked, never as a blank page).
//
// The body keeps the panel's final size from the first paint on: its height is reserved
// in CSS (`--rows` table rows, or the chart's fixed box), so answers arriving one by one
// move nothing on the page, and an error or an empty answer keeps the same box.

import { exportCsv } from "../api.js";
import { download, h } from "../dom.js";

export class Frame {
  /**
   * `id` names the panel in the DOM and the URL (`tab.<id>`); `tabs` are `[{key,
   * label}]` or empty; `onTab(key)` is called when one is chosen (click, or the arrow
   * keys, Home and End on a focused tab, as the ARIA tabs pattern has it); `rows` is the
   * number of table rows the body reserves room for (none: the panel's CSS sizes it);
   * `actions` are extra header buttons, before the CSV one.
   */
  constructor({ id, title, tabs = [], onTab, rows, actions = [] }) {
    this.id = id;
    this.body = h("div", { class: "panel-body", id: `panel-${id}-body` });
    this.lead = h("div", { class: "panel-lead" });
    this.notice = h("p", { class: "notice", role: "alert", hidden: true });
    this.tabButtons = tabs.map((t) =>
      h("button", { type: "button", role: "tab", class: "tab", id: `tab-${id}-${t.key}`, "data-tab": t.key, "aria-controls": this.body.id, onclick: () => onTab(t.key) }, t.label),
    );
    const tablist = tabs.length ? h("div", { class: "tabs", role: "tablist", "aria-label": `${title} views`, onkeydown: (e) => this.keyTab(e, onTab) }, this.tabButtons) : null;
    if (tabs.length) this.body.setAttribute("role", "tabpanel");
    this.exportButton = h("button", { type: "button", class: "export", "aria-label": `Download ${title} as CSV` }, "CSV");
    this.exportButton.addEventListener("click", () => this.export());
    this.title = h("h2", { id: `panel-${id}-title` }, title);
    this.element = h(
      "section",
      { class: "panel", id: `panel-${id}`, "data-panel": id, "aria-labelledby": this.title.id, style: rows ? `--rows:${rows}` : null },
      h("header", {}, this.title, tablist, h("div", { class: "panel-actions" }, actions, this.exportButton)),
      this.lead,
      h("div", { class: "panel-box" }, this.body, this.notice),
    );
    this.exportQuery = null;
  }

  /** Marks the active tab: the only one in the tab order, and the label of the body. */
  selectTab(key) {
    for (const b of this.tabButtons) {
      const selected = b.dataset.tab === key;
      b.setAttribute("aria-selected", String(selected));
      b.tabIndex = selected ? 0 : -1;
      if (selected) this.body.setAttribute("aria-labelledby", b.id);
    }
  }

  /** Arrow keys, Home and End move between the tabs and choose the one they land on. */
  keyTab(event, onTab) {
    const at = this.tabButtons.indexOf(document.activeElement);
    const last = this.tabButtons.length - 1;
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: last }[event.key];
    if (at < 0 || to === undefined) return;
    event.preventDefault();
    const next = this.tabButtons[(to + last + 1) % (last + 1)];
    next.focus();
    onTab(next.dataset.tab);
  }

  /** Shows `nodes` above the body (a form the report needs), kept as they are if unchanged. */
  setLead(nodes) {
    const same = nodes.length === this.lead.childNodes.length && nodes.every((n, i) => n === this.lead.childNodes[i]);
    if (!same) this.lead.replaceChildren(...nodes);
  }

  /**
   * Runs `load()` and shows what it returns (nodes for the body), or its error. Until the
   * panel's first answer the body shows `skeleton` (placeholders the size of the
   * report); later loads dim the report they replace. The panel's `data-state` says
   * which (`loading`, `ready`, `error`) for tests and the render timer; `aria-busy`
   * tells screen readers. `exportQuery` is the query the CSV button exports, if any.
   */
  async show(load, exportQuery, skeleton = []) {
    this.exportQuery = exportQuery;
    this.exportButton.hidden = !exportQuery;
    this.notice.hidden = true;
    // `data-waiting`: the skeleton shows, not a report to dim.
    if (this.element.dataset.state === undefined || this.element.dataset.state === "error") {
      this.body.replaceChildren(...skeleton);
      this.body.dataset.waiting = "";
    }
    this.element.dataset.state = "loading";
    this.body.setAttribute("aria-busy", "true");
    try {
      const nodes = await load();
      this.body.replaceChildren(...nodes);
      delete this.body.dataset.waiting;
      this.element.dataset.state = "ready";
    } catch (err) {
      if (err.name === "AbortError") return;
      this.body.replaceChildren(h("p", { class: "error", role: "alert" }, `Could not load: ${err.message}`));
      delete this.body.dataset.waiting;
      this.element.dataset.state = "error";
    }
    this.body.removeAttribute("aria-busy");
  }

  async export() {
    try {
      const { name, blob } = await exportCsv(this.exportQuery);
      download(name, blob);
    } catch (err) {
      // Over the report, not above it: the panel keeps its size.
      this.notice.textContent = `Export failed: ${err.message}`;
      this.notice.hidden = false;
    }
  }
}
