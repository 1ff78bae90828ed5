// Sites (administrators): every site with its ingest keys (a new one is shown once;
// revoke), and the form that creates a site.

import * as api from "../api.js";
import { h } from "../dom.js";
import { button, field, firstLoad, form, loaded, shownOnce, when } from "./form.js";

/** `onCreated()` is told about a new site (the site switcher lists it). */
export function sitesPage(onCreated) {
  const status = h("p", { class: "error", role: "alert", hidden: true });
  const list = h("ul", { class: "cards-list sites" });
  const domain = h("input", { type: "text", name: "domain", placeholder: "example.com", required: true, autocapitalize: "off" });
  const timezone = h("input", { type: "text", name: "timezone", value: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC", required: true });
  const create = form({ id: "site-form" }, [h("h3", {}, "New site"), h("div", { class: "form-grid" }, field("Domain", domain), field("Time zone", timezone))], "Create site", async () => {
    await api.createSite(domain.value.trim(), timezone.value.trim());
    domain.value = "";
    await load();
    onCreated();
  });
  const element = h("section", { class: "page", id: "page-sites" }, h("header", { class: "page-head" }, h("h2", {}, "Sites")), status, list, create);

  async function siteItem(site) {
    const keys = await api.ingestKeys(site.id);
    const fresh = h("div", { class: "fresh" });
    const newKey = async () => {
      const created = await api.createIngestKey(site.id);
      await load();
      list.querySelector(`[data-site="${site.domain}"] .fresh`).replaceChildren(shownOnce("ingest key", created.key));
    };
    return h(
      "li",
      { class: "card-item", "data-site": site.domain },
      h("div", { class: "rule-head" }, h("strong", {}, site.domain), h("span", { class: "muted-text" }, `${site.timezone} · id ${site.id}`)),
      h(
        "ul",
        { class: "keys" },
        keys.map((k) => {
          const revoke = async () => {
            await api.revokeIngestKey(site.id, k.id);
            await load();
          };
          return h("li", { "data-key-id": k.id }, `Ingest key #${k.id}, created ${when(k.created_at)} `, button("Revoke", revoke, status, { class: "small danger revoke" }));
        }),
      ),
      h("div", { class: "actions" }, button("New ingest key", newKey, status, { class: "small new-ingest-key" })),
      fresh,
    );
  }

  async function load() {
    const sites = (await api.sites()).filter((s) => s.role === "admin");
    list.replaceChildren(...(await Promise.all(sites.map(siteItem))));
    loaded(element);
  }

  const render = () => firstLoad(status, "the sites", load);
  return { element, render };
}
