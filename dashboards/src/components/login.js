// The login page, shown whenever the gateway answers 401.

import { login } from "../api.js";
import { h } from "../dom.js";

/** Shows the form in `root`; resolves once the user has logged in. */
export function showLogin(root) {
  return new Promise((resolve) => {
    const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
    const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
    const error = h("p", { class: "error", id: "login-error", role: "alert", hidden: true });
    const button = h("button", { type: "submit" }, "Log in");
    const form = h(
      "form",
      { class: "login", id: "login" },
      h("h1", {}, "Sign in to Tally"),
      h("label", {}, "Email", email),
      h("label", {}, "Password", password),
      error,
      button,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      button.disabled = true;
      try {
        await login(email.value, password.value);
        resolve();
      } catch (err) {
        error.textContent = err.status === 401 ? "Wrong email or password." : err.message;
        error.hidden = false;
        // The inputs say they were refused, and point to the message.
        for (const input of [email, password]) {
          input.setAttribute("aria-invalid", "true");
          input.setAttribute("aria-describedby", error.id);
        }
      } finally {
        button.disabled = false;
      }
    });
    root.replaceChildren(h("main", { class: "login-page" }, form));
    email.focus();
  });
}
