// The "PDF" button: the view on screen (site, range, comparison, filters) as a PDF
// report the gateway prints, downloaded as a file. A failure shows beside the button.

import { exportPdf } from "../api.js";
import { download, h } from "../dom.js";
import { baseQuery } from "../state.js";

export function pdfButton() {
  const button = h("button", { type: "button", class: "pdf-export", title: "Download this view as a PDF report" }, "PDF");
  const status = h("span", { class: "pdf-status", role: "status" });
  const element = h("span", { class: "pdf" }, button, status);
  let current = null;
  button.addEventListener("click", async () => {
    const { site_id, date_range, filters } = baseQuery(current);
    const comparison = current.compare === "off" || current.period === "realtime" ? null : current.compare;
    button.disabled = true;
    status.textContent = "Preparing…";
    try {
      const { name, blob } = await exportPdf({ site_id, date_range, filters, comparison });
      download(name, blob);
      status.textContent = "";
    } catch (err) {
      status.textContent = `PDF failed: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
  /** Follows the view; hidden where it cannot be used (another page, a shared link). */
  function render(state, shown) {
    current = state;
    element.hidden = !shown;
  }
  return { element, render };
}
