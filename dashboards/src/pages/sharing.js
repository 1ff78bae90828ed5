// Sharing (admins of the site): the site's public links, each a secret URL that shows
// its dashboard read-only without signing in (optionally with a password, some panels
// only, or embeddable in other sites' pages); the URL is shown once, when created.

import * as api from "../api.js";
import { h } from "../dom.js";
import { button, field, firstLoad, form, loaded, shownOnce, table, when } from "./form.js";

/** The panels a link may show (the dashboard's, by their `data-panel` id). */
const PANELS = [
  ["kpis", "Overview"],
  ["chart", "Chart"],
  ["pages", "Pages"],
  ["sources", "Sources"],
  ["locations", "Locations"],
  ["devices", "Devices"],
  ["goals", "Goals"],
  ["funnel", "Funnel"],
  ["props", "Custom events"],
];

/** `siteOf(domain)` is the session's site of that domain (for its id). */
export function sharingPage(siteOf) {
  const status = h("p", { class: "error", role: "alert", hidden: true });
  const list = h("div", { class: "share-links" });
  const fresh = h("div", { class: "fresh" });
  const name = h("input", { type: "text", name: "name", placeholder: "e.g. Public stats" });
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", placeholder: "none" });
  const boxes = PANELS.map(([id]) => h("input", { type: "checkbox", name: "panels", value: id, checked: true }));
  const panelGroup = h("div", { class: "checks" }, PANELS.map(([, label], i) => h("label", {}, boxes[i], ` ${label}`)));
  const embed = h("input", { type: "checkbox", name: "embed" });
  const origins = h("input", { type: "text", name: "embed_origins", placeholder: "https://blog.example.com (empty: any site)" });
  let site = null;
  const create = form(
    { id: "share-form" },
    [
      h("h3", {}, "New shared link"),
      h("div", { class: "form-grid" }, field("Name", name), field("Password (optional)", password), field("Panels", panelGroup, "panels"), field("Embeddable in other sites", embed), field("Sites that may embed it", origins)),
    ],
    "Create link",
    async () => {
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
      const created = await api.createShareLink(site.id, {
        name: name.value.trim(),
        password: password.value || null,
        // Every panel: no list, so panels added to the dashboard later show too.
        panels: chosen.length === PANELS.length ? null : chosen,
        embed: embed.checked,
        embed_origins: embed.checked ? origins.value.split(/[\s,]+/).filter(Boolean) : [],
      });
      name.value = password.value = origins.value = "";
      await load();
      fresh.replaceChildren(shownOnce("link", new URL(created.path.slice(1), document.baseURI).href));
    },
  );
  const element = h("section", { class: "page", id: "page-sharing" }, h("header", { class: "page-head" }, h("h2", {}, "Sharing")), status, fresh, list, create);

  async function load() {
    const links = await api.shareLinks(site.id);
    list.replaceChildren(
      links.length
        ? table(
            ["Name", "Panels", "Password", "Embeddable", "Created", "Actions"],
            links.map((l) => {
              const revoke = async () => {
                await api.revokeShareLink(site.id, l.id);
                fresh.replaceChildren();
                await load();
              };
              return h(
                "tr",
                { "data-link-id": l.id },
                h("td", {}, l.name || "(no name)"),
                h("td", {}, l.panels ? l.panels.map((p) => PANELS.find(([id]) => id === p)?.[1] ?? p).join(", ") : "all"),
                h("td", {}, l.protected ? "yes" : "no"),
                h("td", {}, l.embed ? l.embed_origins.join(" ") || "any site" : "no"),
                h("td", {}, when(l.created_at)),
                h("td", {}, button("Revoke", revoke, status, { class: "small danger" })),
              );
            }),
          )
        : h("p", { class: "empty" }, "No shared link yet: this site's dashboard is seen only by its members."),
    );
    loaded(element);
  }

  function render(state) {
    site = siteOf(state.site);
    fresh.replaceChildren();
    return firstLoad(status, "the shared links", load);
  }
  return { element, render };
}
