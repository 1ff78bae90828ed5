// Drives headless Chromium through the Sources panel's Channels tab: signed in, the
// dashboard opened on the tab (`tab.sources=channel`) lists the channels with the
// visitors the API gives `visit:channel`; choosing a channel from the keyboard filters
// the whole dashboard by it (URL, chip, KPIs equal to the API's); the tab has no
// WCAG 2.2 AA violation axe-core finds (light and dark) and no console error.
//
//   node channels.mjs <gateway base URL> <site domain> <screenshot dir>
//   TALLY_TEST_EMAIL / TALLY_TEST_PASSWORD: an account that may see the site
//
// Prints one JSON line: the channels shown with their visitors.
import { mkdirSync } from "node:fs";
import { accessible, check, collectErrors, launch, watchErrors } from "./chromium.mjs";

const [base, site, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

function same(a, b, what) {
  check(JSON.stringify(a) === JSON.stringify(b), `${what}: dashboard ${JSON.stringify(a)} ≠ API ${JSON.stringify(b)}`);
}

async function rendered(page, after) {
  await page.waitForFunction((n) => Number(document.body.dataset.rendered || 0) > n, after, { timeout: 30000 });
  return page.evaluate(() => Number(document.body.dataset.rendered));
}

/** The API's visitors per channel (or in total, with no dimension) for `filters`. */
async function api(context, dimensions, filters) {
  const q = { site_id: site, date_range: "30d", metrics: ["visitors"], dimensions, filters };
  const resp = await context.request.post(`${base}/api/v1/query`, { data: q });
  check(resp.ok(), `API query failed: ${resp.status()} ${await resp.text()}`);
  return (await resp.json()).results.map((r) => [...r.dimensions, r.metrics[0]]);
}

const browser = await launch();
const seen = {};
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const pageErrors = [];
  collectErrors(page, pageErrors);
  const errors = watchErrors(page);

  await page.goto(`${base}/?site=${encodeURIComponent(site)}&tab.sources=channel`);
  await page.waitForSelector("#login", { timeout: 30000 });
  await page.fill("#login input[name=email]", process.env.TALLY_TEST_EMAIL);
  await page.fill("#login input[name=password]", process.env.TALLY_TEST_PASSWORD);
  await page.click("#login button[type=submit]");
  let n = await rendered(page, 0);

  const tab = page.locator('#panel-sources [role=tab][data-tab="channel"]');
  check((await tab.getAttribute("aria-selected")) === "true", "the Channels tab is chosen from the URL");
  check((await tab.textContent()).trim() === "Channels", "the tab is named Channels");
  const rows = await page.$$eval("#panel-sources tbody tr", (trs) =>
    trs.map((tr) => [tr.dataset.value, Number(tr.querySelector("td.num").dataset.value)]),
  );
  same(rows, await api(context, ["visit:channel"], []), "channels and their visitors");
  seen.channels = rows;

  await accessible(page, "channels tab, light");
  await page.emulateMedia({ colorScheme: "dark" });
  await accessible(page, "channels tab, dark");
  await page.emulateMedia({ colorScheme: "light" });
  await page.locator("#panel-sources").screenshot({ path: `${shots}/channels-tab.png` });

  // Choosing a channel from the keyboard filters everything by it.
  const [channel] = rows[0];
  await page.locator("#panel-sources tbody tr").first().locator("button.name").focus();
  await page.keyboard.press("Enter");
  n = await rendered(page, n);
  same(new URL(page.url()).searchParams.getAll("f"), [`is|visit:channel|${channel}`], "filter in the URL");
  check(await page.locator(`.chip[data-value="${channel}"]`).isVisible(), "filter chip shown");
  const visitors = await page.$eval('#panel-kpis .card[data-metric="visitors"] .card-value', (el) => Number(el.dataset.value));
  same([visitors], (await api(context, [], [["is", "visit:channel", [channel]]]))[0], `visitors of ${channel}`);
  same(errors.splice(0), [], "console errors and failed requests");
  same(pageErrors, [], "uncaught errors");
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
