// The frame every report panel shares: a title, optional tabs, a CSV export button and
// a body that shows the report, "loading" or the error that made it fail (an API error
// shows in the panel that asked, never as a blank page).

import { exportCsv } from "../api.js";
import { download, h } from "../dom.js";

export class Frame {
  /**
   * `id` names the panel in the DOM and the URL (`tab.<id>`); `tabs` are `[{key,
   * label}]` or empty; `onTab(key)` is called when one is clicked.
   */
  constructor({ id, title, tabs = [], onTab }) {
    this.body = h("div", { class: "panel-body" });
    this.error = h("p", { class: "error", role: "alert", hidden: true });
    this.tabButtons = tabs.map((t) =>
      h("button", { type: "button", class: "tab", "data-tab": t.key, onclick: () => onTab(t.key) }, t.label),
    );
    this.exportButton = h("button", { type: "button", class: "export", title: "Download as CSV" }, "CSV");
    this.exportButton.addEventListener("click", () => this.export());
    this.element = h(
      "section",
      { class: "panel", id: `panel-${id}`, "data-panel": id },
      h("header", {}, h("h2", {}, title), h("div", { class: "tabs", role: "tablist" }, this.tabButtons), this.exportButton),
      this.error,
      this.body,
    );
    this.exportQuery = null;
  }

  /** Marks the active tab. */
  selectTab(key) {
    for (const b of this.tabButtons) b.setAttribute("aria-selected", String(b.dataset.tab === key));
  }

  /**
   * Runs `load()` and shows what it returns (nodes for the body), or its error. The
   * panel's `data-state` says which (`loading`, `ready`, `error`) for tests and the
   * render timer. `exportQuery` is the query the CSV button exports, if any.
   */
  async show(load, exportQuery) {
    this.exportQuery = exportQuery;
    this.exportButton.hidden = !exportQuery;
    this.element.dataset.state = "loading";
    try {
      const nodes = await load();
      this.body.replaceChildren(...nodes);
      this.error.hidden = true;
      this.element.dataset.state = "ready";
    } catch (err) {
      if (err.name === "AbortError") return;
      this.body.replaceChildren();
      this.error.textContent = `Could not load: ${err.message}`;
      this.error.hidden = false;
      this.element.dataset.state = "error";
    }
  }

  async export() {
    try {
      const { name, blob } = await exportCsv(this.exportQuery);
      download(name, blob);
    } catch (err) {
      this.error.textContent = `Export failed: ${err.message}`;
      this.error.hidden = false;
    }
  }
}
