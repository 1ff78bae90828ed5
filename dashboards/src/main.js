// The dashboard: finds out who is signed in (or shows the login page), then renders
// the page in the URL (the stats panels, or alerts and the administrators' pages), again
// on every change and on back/forward.
//
// When all panels of a render have settled, `body[data-rendered]` counts up and the
// first render's time since navigation start lands in `body[data-first-render-ms]`:
// the browser test waits on the first, the bench reads the second.

import * as api from "./api.js";
import { datePicker } from "./components/datepicker.js";
import { filterBar } from "./components/filters.js";
import { showLogin } from "./components/login.js";
import { offered, pageNav } from "./components/nav.js";
import { realtimeCount } from "./components/realtime.js";
import { segmentBar } from "./components/segments.js";
import { siteSwitcher } from "./components/sites.js";
import { h } from "./dom.js";
import { chart } from "./panels/chart.js";
import { devices } from "./panels/devices.js";
import { funnel } from "./panels/funnel.js";
import { goals } from "./panels/goals.js";
import { kpis } from "./panels/kpis.js";
import { locations } from "./panels/locations.js";
import { pages } from "./panels/pages.js";
import { properties } from "./panels/properties.js";
import { sources } from "./panels/sources.js";
import { alertsPage } from "./pages/alerts.js";
import { goalsPage } from "./pages/goals.js";
import { keysPage } from "./pages/keys.js";
import { sitesPage } from "./pages/sites.js";
import { usersPage } from "./pages/users.js";
import * as state from "./state.js";
import "./style.css";

const root = document.getElementById("app");
const sites = siteSwitcher();
const live = realtimeCount();
const picker = datePicker();
const filters = filterBar();
const segments = segmentBar();
const panels = [kpis(), chart(), pages(), sources(), locations(), devices(), goals(), funnel(), properties()];
const views = { alerts: alertsPage(), goals: goalsPage(), sites: sitesPage(refreshSites), users: usersPage(), keys: keysPage() };
const nav = pageNav();
const user = h("span", { class: "user" });
const logoutButton = () => h("button", { type: "button", class: "link logout", onclick: signOut }, "Log out");
const grid = h("div", { class: "grid" }, panels.map((p) => p.element));
const pageHost = h("div", { class: "page-host" });
const layout = h(
  "div",
  { class: "dashboard" },
  // The live count sits after the range picker, before the account's free space: its
  // figure changing width moves nothing.
  h("header", { class: "top" }, h("h1", {}, "Tally"), sites.element, picker.element, live.element, h("span", { class: "account" }, user, logoutButton())),
  nav.element,
  h("main", { tabindex: "-1" }, segments.element, filters.element, grid, pageHost),
);

let session = null;
let inFlight = null;
let renders = 0;
let loggingIn = false;

function render(current) {
  sites.render(current, session.sites);
  live.render(current);
  const allowed = offered(session, current.site);
  // A page this user may not use (a shared link) shows the stats instead.
  const page = allowed.includes(current.page) ? current.page : "stats";
  nav.render({ ...current, page }, allowed);
  document.body.dataset.page = page;
  picker.element.hidden = segments.element.hidden = filters.element.hidden = grid.hidden = page !== "stats";
  pageHost.hidden = page === "stats";
  inFlight?.abort();
  if (page !== "stats") {
    document.title = `${views[page].element.querySelector("h2").textContent} · ${current.site} · Tally`;
    pageHost.replaceChildren(views[page].element);
    views[page].render(current);
    return;
  }
  document.title = `${current.site} · Tally`;
  picker.render(current);
  filters.render(current);
  segments.render(current);
  const controller = new AbortController();
  inFlight = controller;
  Promise.all(panels.map((p) => p.render(current, controller.signal))).then(() => {
    if (controller.signal.aborted) return;
    renders += 1;
    if (renders === 1) document.body.dataset.firstRenderMs = Math.round(performance.now());
    document.body.dataset.rendered = renders;
  });
}

/** A site was created: the session's list of sites (the switcher's) is read again. */
async function refreshSites() {
  session = await api.session();
  sites.render(state.get(), session.sites);
}

/** Loads the session (logging in first if needed), picks the site and renders. */
async function start() {
  try {
    session = await api.session();
  } catch (err) {
    if (!(err instanceof api.Unauthorized)) {
      root.replaceChildren(h("main", { class: "notice-page" }, h("h1", {}, "Tally"), h("p", { class: "error", role: "alert" }, `Could not reach Tally: ${err.message}`), h("button", { type: "button", onclick: start }, "Try again")));
      return;
    }
    live.stop();
    loggingIn = true;
    await showLogin(root);
    loggingIn = false;
    return start();
  }
  user.textContent = session.user.email;
  if (session.sites.length === 0) {
    root.replaceChildren(h("main", { class: "notice-page" }, h("h1", {}, "Tally"), h("p", { class: "empty" }, `Signed in as ${session.user.email}, with no site yet: ask an administrator for access to one.`), logoutButton()));
    return;
  }
  // The site in the URL if this user may see it, else their first.
  const site = session.sites.some((s) => s.domain === state.get().site) ? state.get().site : session.sites[0].domain;
  root.replaceChildren(layout);
  state.update({ site }, { replace: true });
}

// Any 401 (an expired session) leads back to the login page.
api.onUnauthorized(() => {
  if (!loggingIn) start();
});
async function signOut() {
  await api.logout().catch(() => {});
  start();
}
state.listen(render);
start();

// The realtime range is the last five minutes: its figures refresh by themselves
// (the header's current-visitor count is pushed separately, every 2 s).
const REALTIME_REFRESH_MS = 10000;
setInterval(() => {
  if (root.contains(layout) && !grid.hidden && state.get().period === "realtime" && !document.hidden) render(state.get());
}, REALTIME_REFRESH_MS);
