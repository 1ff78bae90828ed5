// The signed-in user's API keys (`Authorization: Bearer ta_...` for programs): list,
// create (for every site they see or one; the key is shown once) and revoke.

import * as api from "../api.js";
import { h } from "../dom.js";
import { button, field, firstLoad, form, loaded, shownOnce, table, when } from "./form.js";

export function keysPage() {
  const status = h("p", { class: "error", role: "alert", hidden: true });
  const list = h("div", { class: "api-keys" });
  const fresh = h("div", { class: "fresh" });
  const name = h("input", { type: "text", name: "name", required: true });
  const site = h("select", { name: "site_id" });
  const create = form({ id: "key-form" }, [h("h3", {}, "New API key"), h("div", { class: "form-grid" }, field("Name", name), field("Sites", site))], "Create key", async () => {
    const created = await api.createApiKey(name.value.trim(), site.value ? Number(site.value) : null);
    name.value = "";
    await load();
    fresh.replaceChildren(shownOnce("API key", created.key));
  });
  const element = h("section", { class: "page", id: "page-keys" }, h("header", { class: "page-head" }, h("h2", {}, "API keys")), status, fresh, list, create);

  async function load() {
    const [keys, sites] = await Promise.all([api.apiKeys(), api.sites()]);
    const domain = new Map(sites.map((s) => [s.id, s.domain]));
    site.replaceChildren(h("option", { value: "" }, "Every site I see"), ...sites.map((s) => h("option", { value: s.id }, s.domain)));
    list.replaceChildren(
      keys.length
        ? table(
            ["Name", "Sites", "Created", "Actions"],
            keys.map((k) => {
              const revoke = async () => {
                await api.revokeApiKey(k.id);
                fresh.replaceChildren();
                await load();
              };
              return h(
                "tr",
                { "data-key-id": k.id },
                h("td", {}, k.name),
                h("td", {}, k.site_id ? (domain.get(k.site_id) ?? `site ${k.site_id}`) : "all"),
                h("td", {}, when(k.created_at)),
                h("td", {}, button("Revoke", revoke, status, { class: "small danger" })),
              );
            }),
          )
        : h("p", { class: "empty" }, "No API key yet."),
    );
    loaded(element);
  }

  const render = () => firstLoad(status, "the keys", load);
  return { element, render };
}
