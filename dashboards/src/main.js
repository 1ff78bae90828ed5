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
import { importsToggle } from "./components/imports.js";
import { showLogin } from "./components/login.js";
import { offered, pageNav } from "./components/nav.js";
import { pdfButton } from "./components/pdf.js";
import { realtimeCount } from "./components/realtime.js";
import { segmentBar } from "./components/segments.js";
import { openShared, sharedToken } from "./components/shared.js";
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
import { reportsPage } from "./pages/reports.js";
import { sharingPage } from "./pages/sharing.js";
import { sitesPage } from "./pages/sites.js";
import { usersPage } from "./pages/users.js";
import * as state from "./state.js";
import "./style.css";

const root = document.getElementById("app");
const sites = siteSwitcher();
const imports = importsToggle();
const live = realtimeCount();
const picker = datePicker();
const filters = filterBar();
const segments = segmentBar();
const pdf = pdfButton();
const allPanels = [kpis(), chart(), pages(), sources(), locations(), devices(), goals(), funnel(), properties()];
// A shared link may show some panels only.
let panels = allPanels;
const views = {
  alerts: alertsPage(),
  goals: goalsPage(),
  sites: sitesPage(refreshSites),
  users: usersPage(),
  keys: keysPage(),
  sharing: sharingPage((domain) => session.sites.find((s) => s.domain === domain)),
  reports: reportsPage((domain, id) => session.sites.find((s) => s.domain === domain || s.id === id)),
};
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
  h("header", { class: "top" }, h("h1", {}, "Tally"), sites.element, picker.element, imports.element, pdf.element, live.element, h("span", { class: "account" }, user, logoutButton())),
  nav.element,
  h("main", { tabindex: "-1" }, segments.element, filters.element, grid, pageHost),
);

let session = null;
let inFlight = null;
let renders = 0;
let loggingIn = false;

/** The shared link this page shows (`/share/<token>`), or null when signed in. */
const shared = sharedToken();

function render(current) {
  sites.render(current, session.sites);
  if (!session.shared) live.render(current);
  const allowed = offered(session, current.site);
  // A page this user may not use (a shared link) shows the stats instead.
  const page = allowed.includes(current.page) ? current.page : "stats";
  nav.render({ ...current, page }, allowed);
  document.body.dataset.page = page;
  picker.element.hidden = filters.element.hidden = grid.hidden = page !== "stats";
  imports.render(current, page === "stats" ? session.sites.find((s) => s.domain === current.site) : null);
  // Saved segments belong to signed-in users.
  segments.element.hidden = page !== "stats" || Boolean(session.shared);
  // PDF reports are made as a signed-in user.
  pdf.render(current, page === "stats" && !session.shared);
  pageHost.hidden = page === "stats";
  inFlight?.abort();
  if (page !== "stats") {
    document.title = `${views[page].element.querySelector("h2").textContent} · ${current.site} · Tally`;
    pageHost.replaceChildren(views[page].element);
    views[page].render(current);
    return;
  }
  document.title = session.shared ? `${session.shared.name || current.site} · shared · Tally` : `${current.site} · Tally`;
  picker.render(current);
  filters.render(current);
  if (!session.shared) segments.render(current);
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
  if (shared) return startShared();
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

/** A public shared link's dashboard: its one site and panels, no account. */
async function startShared() {
  try {
    session = await openShared(root, shared);
  } catch (err) {
    const text = err.status === 404 ? "This shared dashboard does not exist or was revoked." : `Could not reach Tally: ${err.message}`;
    root.replaceChildren(h("main", { class: "notice-page" }, h("h1", {}, "Tally"), h("p", { class: "error", role: "alert" }, text)));
    return;
  }
  // No live count (a signed-in stream), no navigation (the one page), no account.
  live.element.remove();
  nav.element.remove();
  user.textContent = session.shared.name;
  user.nextSibling?.remove();
  panels = allPanels.filter((p) => session.shared.panels.includes(p.element.dataset.panel));
  grid.replaceChildren(...panels.map((p) => p.element));
  root.replaceChildren(layout);
  state.update({ site: session.sites[0].domain }, { replace: true });
}

// Any 401 (an expired session, or an expired unlock of a shared link) leads back to
// the login page (the password form).
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
