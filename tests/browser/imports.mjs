// Drives headless Chromium through the dashboard's imports toggle: a site with imported
// data offers it (unchecked), checking it adds the imported figures to the visitors card
// and to its change against the (default) previous period, whose imported days count
// in the comparison, and puts `imports=on` in the URL, going back takes them out again, and a site without
// imports does not offer it. axe-core finds no WCAG 2.2 AA violation with the toggle
// shown (light and dark); no uncaught error.
//
//   node imports.mjs <gateway base URL> <site with imports> <site without>
//   TALLY_TEST_EMAIL / TALLY_TEST_PASSWORD: a user who may see both sites
//
// Prints one JSON line: the visitors and their change shown without and with the
// imported data.
import { accessible, check, collectErrors, launch } from "./chromium.mjs";

const [base, site, plainSite] = process.argv.slice(2);

/** Waits until the dashboard has completed more than `after` renders. */
async function rendered(page, after) {
  await page.waitForFunction((n) => Number(document.body.dataset.rendered || 0) > n, after, { timeout: 30000 });
}
const renders = (page) => page.evaluate(() => Number(document.body.dataset.rendered || 0));
const visitors = (page) => page.$eval("#panel-kpis .card[data-metric=visitors] .card-value", (el) => Number(el.dataset.value));
const change = (page) => page.$eval("#panel-kpis .card[data-metric=visitors] .card-change", (el) => el.dataset.value);

const browser = await launch();
const seen = {};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  collectErrors(page, errors);
  // The default comparison: the previous period.
  await page.goto(`${base}/?site=${encodeURIComponent(site)}`);
  await page.waitForSelector("#login", { timeout: 30000 });
  await page.fill("#login input[name=email]", process.env.TALLY_TEST_EMAIL);
  await page.fill("#login input[name=password]", process.env.TALLY_TEST_PASSWORD);
  await page.click("#login button[type=submit]");
  await rendered(page, 0);

  const toggle = page.locator(".imports-toggle input[name=imports]");
  check(await toggle.isVisible(), "a site with imports offers the imports toggle");
  check(!(await toggle.isChecked()), "imported data is left out until asked for");
  seen.without = await visitors(page);
  seen.change_without = await change(page);

  let n = await renders(page);
  await toggle.check();
  await rendered(page, n);
  check(new URL(page.url()).searchParams.get("imports") === "on", `the URL keeps the choice: ${page.url()}`);
  seen.with = await visitors(page);
  seen.change_with = await change(page);
  await accessible(page, "dashboard with the imports toggle");
  await page.emulateMedia({ colorScheme: "dark" });
  await accessible(page, "dashboard with the imports toggle, dark");
  await page.emulateMedia({ colorScheme: "light" });

  n = await renders(page);
  await page.goBack();
  await rendered(page, n);
  check(!(await toggle.isChecked()), "back: the toggle is unchecked again");
  check((await visitors(page)) === seen.without, "back: the native figures again");

  n = await renders(page);
  await page.selectOption("select[name=site]", plainSite);
  await rendered(page, n);
  check(!(await page.locator(".imports-toggle").isVisible()), "a site without imports offers no toggle");
  check(errors.length === 0, `uncaught errors: ${errors.join("; ")}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
