// Users (administrators): every user with their role on each site (change, remove, add
// one), and the form that creates a user.

import * as api from "../api.js";
import { h } from "../dom.js";
import { button, field, firstLoad, form, loaded } from "./form.js";

const ROLES = ["viewer", "analyst", "admin"];
const roleSelect = (name, value) => h("select", { name, "aria-label": "Role" }, ROLES.map((r) => h("option", { value: r, selected: r === value }, r)));

export function usersPage() {
  const status = h("p", { class: "error", role: "alert", hidden: true });
  const list = h("ul", { class: "cards-list users" });
  const input = {
    email: h("input", { type: "email", name: "email", required: true, autocapitalize: "off" }),
    name: h("input", { type: "text", name: "name" }),
    password: h("input", { type: "password", name: "password", autocomplete: "new-password", required: true }),
    admin: h("input", { type: "checkbox", name: "admin" }),
  };
  const create = form(
    { id: "user-form" },
    [
      h("h3", {}, "New user"),
      h(
        "div",
        { class: "form-grid" },
        field("Email", input.email),
        field("Name", input.name),
        field("Password", input.password),
        h("label", { class: "check" }, input.admin, " Administrator (every site)"),
      ),
    ],
    "Create user",
    async () => {
      await api.createUser({ email: input.email.value, name: input.name.value, password: input.password.value, admin: input.admin.checked });
      input.email.value = input.name.value = input.password.value = "";
      input.admin.checked = false;
      await load();
    },
  );
  const element = h("section", { class: "page", id: "page-users" }, h("header", { class: "page-head" }, h("h2", {}, "Users")), status, list, create);

  function userItem(user, sites) {
    const domain = new Map(sites.map((s) => [s.id, s.domain]));
    const memberships = user.sites.map((m) => {
      const role = roleSelect("role", m.role);
      // Refused or not, the list is read again: it shows the role actually held.
      role.addEventListener("change", () =>
        api
          .setMembership(m.site_id, user.id, role.value)
          .catch((err) => {
            status.textContent = err.message;
            status.hidden = false;
          })
          .finally(load),
      );
      const remove = async () => {
        await api.removeMembership(m.site_id, user.id);
        await load();
      };
      const name = domain.get(m.site_id) ?? `site ${m.site_id}`;
      return h("li", { "data-site-id": m.site_id }, h("span", {}, name), role, button("Remove", remove, status, { class: "small danger" }));
    });
    const others = sites.filter((s) => !user.sites.some((m) => m.site_id === s.id));
    const site = h("select", { name: "site", "aria-label": "Site" }, others.map((s) => h("option", { value: s.id }, s.domain)));
    const role = roleSelect("new_role", "viewer");
    const addTo = async () => {
      await api.setMembership(site.value, user.id, role.value);
      await load();
    };
    const add = others.length ? h("div", { class: "actions add-membership" }, site, role, button("Add to site", addTo, status, { class: "small" })) : null;
    return h(
      "li",
      { class: "card-item", "data-user": user.email },
      h(
        "div",
        { class: "rule-head" },
        h("strong", {}, user.email),
        user.name ? h("span", { class: "muted-text" }, user.name) : null,
        user.admin ? h("span", { class: "badge" }, "administrator") : null,
      ),
      h("ul", { class: "memberships" }, memberships),
      add,
    );
  }

  async function load() {
    const [users, sites] = await Promise.all([api.users(), api.sites()]);
    list.replaceChildren(...users.map((u) => userItem(u, sites)));
    loaded(element);
  }

  const render = () => firstLoad(status, "the users", load);
  return { element, render };
}
