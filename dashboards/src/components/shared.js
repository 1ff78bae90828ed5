// A public shared dashboard (`/share/<token>`): no sign-in, one site, read-only. The
// link says which site and panels it shows; a password-protected one asks for its
// password first and keeps the unlock for this tab (sessionStorage).

import * as api from "../api.js";
import { h } from "../dom.js";

/** The token of the shared link this page shows, or null on the signed-in dashboard. */
export function sharedToken() {
  return /\/share\/(ts_[0-9a-f]{64})$/.exec(location.pathname)?.[1] ?? null;
}

const unlockKey = (token) => `tally-unlock-${token}`;

/**
 * Opens shared link `token` in `root` (asking for its password when it has one) and
 * resolves to what the dashboard renders from: a session-like `{user: null, sites: [the
 * link's site], shared: {name, panels}}`.
 */
export async function openShared(root, token) {
  let unlock = sessionStorage.getItem(unlockKey(token));
  api.useSharedLink(token, unlock);
  let about = await api.sharedLink(token);
  if (!about.unlocked) {
    sessionStorage.removeItem(unlockKey(token));
    unlock = await askPassword(root, token);
    sessionStorage.setItem(unlockKey(token), unlock);
    api.useSharedLink(token, unlock);
    about = await api.sharedLink(token);
  }
  document.body.dataset.shared = "";
  // Framed by another site (an embeddable link): the compact layout.
  if (window.self !== window.top) document.body.dataset.embedded = "";
  return { user: null, sites: [{ id: null, domain: about.site, timezone: about.timezone, role: "viewer" }], shared: about };
}

/** The password form; resolves to the unlock token once the right password is given. */
function askPassword(root, token) {
  return new Promise((resolve) => {
    const password = h("input", { type: "password", name: "password", autocomplete: "off", required: true });
    const error = h("p", { class: "error", id: "unlock-error", role: "alert", hidden: true });
    const button = h("button", { type: "submit" }, "Open");
    const form = h("form", { class: "login", id: "unlock" }, h("h1", {}, "Shared dashboard"), h("p", {}, "This dashboard is protected by a password."), h("label", {}, "Password", password), error, button);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      button.disabled = true;
      try {
        resolve(await api.unlockSharedLink(token, password.value));
      } catch (err) {
        error.textContent = err.status === 403 ? "Wrong password." : err.status === 429 ? "Too many attempts: try again later." : err.message;
        error.hidden = false;
        password.setAttribute("aria-invalid", "true");
        password.setAttribute("aria-describedby", error.id);
      } finally {
        button.disabled = false;
      }
    });
    root.replaceChildren(h("main", { class: "login-page" }, form));
    password.focus();
  });
}
