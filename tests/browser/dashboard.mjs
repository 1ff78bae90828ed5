// Drives headless Chromium through the dashboard served by a gateway and checks what a
// person would: login (a wrong password first), the site switcher, the figures shown
// equal the API's answers to the same queries, a
// clicked row filters everything (URL and numbers), the range picker and back/forward
// work, a stored funnel picked shows the API's steps, the realtime count follows a new
// event, a panel exports its CSV, an API error
// shows in the panel, and the phone layout has no horizontal scroll. Screenshots at
// 1280×800 and 390×844 (light and dark) go to the directory given. Last, logging out
// leads back to the login page and the API refuses the old session.
//
// What a person feels too: nothing moves while the panels fill in (the layout shift
// the browser measures stays under 0.05 on the desktop and the phone, and a failing
// panel keeps its size), the login page and the dashboard load without a console error
// or a failed request, the tabs, rows and chart table work from the keyboard, and
// axe-core finds no WCAG 2.2 AA violation on the login page, the dashboard (light and
// dark) and the failing panels.
//
//   node dashboard.mjs <gateway base URL> <site domain> <screenshot dir>
//   TALLY_TEST_EMAIL / TALLY_TEST_PASSWORD: the account to log in with, a user who may
//   see the site and one more
//
// Prints one JSON line with what it saw; any failed check throws (exit status 1).
import { mkdirSync, readFileSync } from "node:fs";
import { accessible, launch, check, collectErrors, measureLayoutShift, noHorizontalScroll, watchErrors } from "./chromium.mjs";

const [base, site, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const KPIS = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"];
const UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

const browser = await launch();

function same(a, b, what) {
  check(JSON.stringify(a) === JSON.stringify(b), `${what}: dashboard ${JSON.stringify(a)} ≠ API ${JSON.stringify(b)}`);
}

/** Waits until the dashboard has completed more than `after` renders. */
async function rendered(page, after = 0) {
  await page.waitForFunction((n) => Number(document.body.dataset.rendered || 0) > n, after, { timeout: 30000 });
  return page.evaluate(() => Number(document.body.dataset.rendered));
}

/** The KPI cards' exact values and changes, as the page holds them. */
function cards(page) {
  return page.$$eval("#panel-kpis .card", (els) =>
    els.map((el) => ({
      metric: el.dataset.metric,
      value: Number(el.querySelector(".card-value").dataset.value),
      change: el.querySelector(".card-change")?.dataset.value ?? null,
    })),
  );
}

/** The same KPI query the dashboard makes, answered by the API. */
async function apiKpis(context, range, filters, siteId = site) {
  const q = {
    site_id: siteId,
    date_range: range,
    filters,
    metrics: KPIS,
    include: { comparisons: { mode: "previous_period" } },
  };
  const resp = await context.request.post(`${base}/api/v1/query`, { data: q });
  check(resp.ok(), `API query failed: ${resp.status()} ${await resp.text()}`);
  const row = (await resp.json()).results[0];
  return KPIS.map((metric, i) => ({ metric, value: row.metrics[i], change: row.comparison.change[i] === null ? "" : String(row.comparison.change[i]) }));
}

/**
 * The layout shift of a page load, read once every panel has answered and the realtime
 * count has arrived (the last things to land), and checked under 0.05.
 */
async function loadShift(page, what) {
  await page.waitForFunction(() => document.querySelector(".realtime strong")?.dataset.value !== "", null, { timeout: 20000 });
  await page.waitForTimeout(300);
  const shift = await page.evaluate(() => window.layoutShift);
  check(shift < 0.05, `${what}: the layout shifted by ${shift.toFixed(3)} while loading (at most 0.05)`);
  return Number(shift.toFixed(4));
}

/** Logs in on the login page, with a wrong password first. */
async function login(page, errors) {
  await page.waitForSelector("#login", { timeout: 30000 });
  same(errors.splice(0), [], "console errors and failed requests on the login page");
  seen.axeRules = await accessible(page, "login page");
  check(process.env.TALLY_TEST_EMAIL, "no TALLY_TEST_EMAIL given");
  await page.fill("#login input[name=email]", process.env.TALLY_TEST_EMAIL);
  await page.fill("#login input[name=password]", "wrong password");
  await page.click("#login button[type=submit]");
  await page.waitForSelector("#login .error:not([hidden])");
  check((await page.getAttribute("#login input[name=password]", "aria-invalid")) === "true", "the refused password is marked invalid");
  await accessible(page, "login page, wrong password");
  errors.splice(0);
  await page.fill("#login input[name=password]", process.env.TALLY_TEST_PASSWORD);
  await page.click("#login button[type=submit]");
}

const seen = {};
try {
  const desktop = await browser.newContext({ userAgent: UA, viewport: { width: 1280, height: 800 } });
  await desktop.addInitScript(measureLayoutShift);
  const page = await desktop.newPage();
  const pageErrors = [];
  collectErrors(page, pageErrors);
  const errors = watchErrors(page);

  const opened = await page.goto(`${base}/?site=${encodeURIComponent(site)}`);
  const csp = opened.headers()["content-security-policy"] || "";
  check(csp.includes("frame-ancestors 'none'") && csp.includes("script-src 'self'"), `the dashboard's policy: ${csp}`);
  await login(page, errors);
  let n = await rendered(page);
  same(await cards(page), await apiKpis(desktop, "30d", []), "KPIs, last 30 days");

  // A fresh load, signed in: nothing moves, nothing fails, nothing axe-core objects to,
  // in light and dark.
  await page.reload();
  n = await rendered(page, 0);
  seen.layoutShift = { desktop: await loadShift(page, "desktop") };
  same(errors.splice(0), [], "console errors and failed requests on the dashboard");
  await accessible(page, "dashboard, light");
  await page.emulateMedia({ colorScheme: "dark" });
  await accessible(page, "dashboard, dark");
  await page.emulateMedia({ colorScheme: "light" });

  // The keyboard: arrow keys move along a panel's tabs and choose them.
  await page.focus("#panel-pages [role=tab][aria-selected=true]");
  await page.keyboard.press("ArrowRight");
  n = await rendered(page, n);
  check(new URL(page.url()).searchParams.get("tab.pages") === "entry", "ArrowRight chose the entry pages");
  check(await page.evaluate(() => document.activeElement.dataset.tab === "entry"), "focus on the entry pages tab");
  await page.keyboard.press("Home");
  n = await rendered(page, n);
  check(new URL(page.url()).searchParams.get("tab.pages") === "top", "Home chose the top pages");

  // The chart's data as a table (its text alternative): one row per day of the range.
  const summary = await page.getAttribute("#panel-chart .chart", "aria-label");
  check(/Unique visitors, Last 30 days, 3[01] points/.test(summary), `the chart's text alternative: ${summary}`);
  await page.click("#panel-chart button[aria-pressed]");
  const days = await page.$$eval("#panel-chart .chart-table tbody tr", (rows) => rows.length);
  check(days === 30 || days === 31, `the chart's table has a row per day: ${days}`);
  await accessible(page, "dashboard, chart as a table");
  await page.click("#panel-chart button[aria-pressed]");
  await page.waitForSelector("#panel-chart .chart canvas");

  // The site switcher lists the user's sites; switching shows the other site's figures.
  const sites = await page.$$eval("select[name=site] option", (os) => os.map((o) => o.value));
  check(sites.length === 2 && sites.includes(site), `the user's two sites: ${sites}`);
  const other = sites.find((s) => s !== site);
  await page.selectOption("select[name=site]", other);
  n = await rendered(page, n);
  check(new URL(page.url()).searchParams.get("site") === other, "site in the URL");
  same(await cards(page), await apiKpis(desktop, "30d", [], other), `KPIs of ${other}`);
  await page.selectOption("select[name=site]", site);
  n = await rendered(page, n);
  await page.screenshot({ path: `${shots}/desktop-1280x800.png` });
  await page.screenshot({ path: `${shots}/desktop-full.png`, fullPage: true });

  // Choosing a country (from the keyboard) filters the whole dashboard by it.
  const row = page.locator("#panel-locations tbody tr").first();
  const country = await row.getAttribute("data-value");
  check(country, "the countries panel lists a country");
  await row.locator("button.name").focus();
  await page.keyboard.press("Enter");
  n = await rendered(page, n);
  const url = new URL(page.url());
  same(url.searchParams.getAll("f"), [`is|visit:country|${country}`], "filter in the URL");
  check(await page.locator(`.chip[data-value="${country}"]`).isVisible(), "filter chip shown");
  const filtered = await cards(page);
  same(filtered, await apiKpis(desktop, "30d", [["is", "visit:country", [country]]]), `KPIs filtered by ${country}`);
  const countries = await page.$$eval("#panel-locations tbody tr", (rows) => rows.map((r) => r.dataset.value));
  same(countries, [country], "the countries panel shows only the filtered country");
  seen.country = country;

  // Another range: URL and numbers follow.
  await page.selectOption("select[name=period]", "7d");
  n = await rendered(page, n);
  check(new URL(page.url()).searchParams.get("period") === "7d", "period=7d in the URL");
  same(await cards(page), await apiKpis(desktop, "7d", [["is", "visit:country", [country]]]), "KPIs, 7 days, filtered");

  // Back: the 30-day filtered view again, from the URL alone.
  await page.goBack();
  n = await rendered(page, n);
  check(new URL(page.url()).searchParams.get("period") === null, "back to the default period");
  same(await cards(page), filtered, "KPIs after going back");
  await page.goForward();
  n = await rendered(page, n);
  check(await page.inputValue("select[name=period]") === "7d", "forward to 7 days");

  // A panel's CSV is what the export endpoint answers for the panel's query.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#panel-pages button.export")]);
  const csv = readFileSync(await download.path(), "utf8");
  const exportQuery = {
    site_id: site,
    date_range: "7d",
    filters: [["is", "visit:country", [country]]],
    metrics: ["visitors", "pageviews"],
    dimensions: ["event:page"],
    order_by: [["visitors", "desc"]],
  };
  const expected = await desktop.request.post(`${base}/api/v1/export`, { data: exportQuery });
  same(csv, await expected.text(), "exported CSV");
  check(/^.+_event-page_\d{4}-\d\d-\d\d_\d{4}-\d\d-\d\d\.csv$/.test(download.suggestedFilename()), `CSV file name ${download.suggestedFilename()}`);
  seen.csvRows = csv.trim().split("\n").length - 1;

  // A stored funnel picked in its panel: in the URL, and the API's steps on the page.
  await page.waitForSelector("#panel-funnel select[name=funnel] option[value=Checkout]", { state: "attached" });
  await page.selectOption("#panel-funnel select[name=funnel]", "Checkout");
  n = await rendered(page, n);
  check(new URL(page.url()).searchParams.get("funnel") === "Checkout", "funnel in the URL");
  const funnelAnswer = await desktop.request.post(`${base}/api/v1/query`, {
    data: { ...exportQuery, dimensions: undefined, order_by: undefined, metrics: ["visitors"], funnel: ["Pricing", "Signup"] },
  });
  const steps = (await funnelAnswer.json()).funnel;
  const shown = await page.$$eval("#panel-funnel tbody tr td:nth-child(2)", (tds) => tds.map((td) => Number(td.dataset.value)));
  same(shown, [steps.visitors, ...steps.steps.map((s) => s.visitors)], "funnel steps");
  check(steps.steps[0].visitors > 0, "someone went through the pricing page");
  seen.funnel = shown;

  // The realtime count follows a new visitor (a user agent nobody else has).
  await page.waitForFunction(() => document.querySelector(".realtime strong").dataset.value !== "");
  const before = Number(await page.getAttribute(".realtime strong", "data-value"));
  const sent = await fetch(`${base}/api/event`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0" },
    body: JSON.stringify({ name: "pageview", url: `https://${site}/realtime-check`, domain: site }),
  });
  check(sent.status === 202, `event answered ${sent.status}`);
  await page.waitForFunction((b) => Number(document.querySelector(".realtime strong").dataset.value) > b, before, { timeout: 20000 });
  seen.realtime = [before, Number(await page.getAttribute(".realtime strong", "data-value"))];

  // Removing the filter from the keyboard: its chip goes, the focus lands on the report
  // (not back at the top of the page).
  await page.focus(`.chip[data-value="${country}"] .remove`);
  await page.keyboard.press("Enter");
  n = await rendered(page, n);
  same(new URL(page.url()).searchParams.getAll("f"), [], "no filter in the URL");
  check(await page.evaluate(() => document.activeElement.tagName === "MAIN"), "focus on the report once the filter is gone");

  // A bad range from a hand-edited URL: the panels say what is wrong, the page stays,
  // every panel keeps the size it has with an answer.
  const sizes = () => page.$$eval(".panel", (ps) => ps.map((p) => [p.id, Math.round(p.getBoundingClientRect().height)]));
  const answered = await sizes();
  await page.goto(`${base}/?site=${encodeURIComponent(site)}&period=custom&from=2025-02-30&to=2025-03-01`);
  await page.waitForSelector("#panel-kpis .error:not([hidden])");
  await page.waitForFunction(() => [...document.querySelectorAll(".panel")].every((p) => p.dataset.state === "error" || p.dataset.state === "ready"));
  const message = await page.textContent("#panel-kpis .error");
  check(message.includes("date_range[0]"), `panel error names the field: ${message}`);
  check(await page.isVisible("select[name=period]"), "the page is still there");
  const failed = await sizes();
  for (const [id, height] of answered.filter(([id]) => id !== "panel-funnel")) {
    const [, now] = failed.find(([other]) => other === id);
    check(Math.abs(now - height) <= 1, `${id} is ${now}px high with an error, ${height}px with an answer`);
  }
  seen.layoutShift.failing = await loadShift(page, "failing panels");
  await accessible(page, "failing panels");
  same(pageErrors, [], "no uncaught errors in the page");

  // The phone: same session, no horizontal scrolling, light and dark.
  const state = await desktop.storageState();
  for (const scheme of ["light", "dark"]) {
    const phone = await browser.newContext({
      userAgent: UA,
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      colorScheme: scheme,
      storageState: state,
    });
    await phone.addInitScript(measureLayoutShift);
    const mobile = await phone.newPage();
    collectErrors(mobile, pageErrors);
    const phoneErrors = watchErrors(mobile);
    await mobile.goto(`${base}/?site=${encodeURIComponent(site)}&f=${encodeURIComponent(`is|visit:country|${country}`)}&tab.sources=utm_campaign`);
    await rendered(mobile);
    seen.layoutShift[`phone-${scheme}`] = await loadShift(mobile, `390 px, ${scheme}`);
    same(phoneErrors, [], `console errors and failed requests at 390 px, ${scheme}`);
    await accessible(mobile, `390 px, ${scheme}`);
    await noHorizontalScroll(mobile, `390 px, ${scheme}`);
    await mobile.screenshot({ path: `${shots}/phone-390x844-${scheme}.png` });
    await mobile.screenshot({ path: `${shots}/phone-full-${scheme}.png`, fullPage: true });
    await phone.close();
  }
  same(pageErrors, [], "no uncaught errors or policy violations on the phone");

  // Logging out: the login page again, and the old session no longer reads anything.
  await page.click(".logout");
  await page.waitForSelector("#login");
  const after = await desktop.request.post(`${base}/api/v1/query`, { data: { site_id: site, date_range: "7d", metrics: ["visitors"] } });
  check(after.status() === 401, `a query after logout answered ${after.status()}`);
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
