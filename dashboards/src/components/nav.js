// The navigation between the stats and the other pages: links (real URLs, so they open
// in a new tab too) that wrap on a phone. Only the pages the user may use are offered:
// alerts, goals and funnels to analysts and admins of the current site, sharing to its
// admins, email reports to everyone, the rest to administrators; a shared link's page
// offers none.

import { h } from "../dom.js";
import { PAGES, serialize, update } from "../state.js";

/** The pages `session` may use on `site`, the stats first. */
export function offered(session, site) {
  const role = session.sites.find((s) => s.domain === site)?.role;
  const pages = ["stats"];
  // A shared link shows its dashboard and nothing else.
  if (session.shared) return pages;
  if (session.user.admin || role === "analyst" || role === "admin") pages.push("alerts", "goals");
  if (session.user.admin || role === "admin") pages.push("sharing");
  pages.push("reports");
  if (session.user.admin) pages.push("sites", "users", "keys");
  return pages;
}

export function pageNav() {
  const element = h("nav", { class: "page-nav", "aria-label": "Pages" });
  function render(state, pages) {
    element.replaceChildren(
      ...pages.map((page) =>
        h(
          "a",
          {
            href: `${location.pathname}${serialize({ ...state, page })}`,
            "data-page": page,
            "aria-current": page === state.page ? "page" : null,
            onclick: (e) => {
              if (e.ctrlKey || e.metaKey || e.shiftKey) return;
              e.preventDefault();
              update({ page });
            },
          },
          page === "stats" ? "Stats" : PAGES[page],
        ),
      ),
    );
  }
  return { element, render };
}
