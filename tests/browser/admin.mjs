// Drives headless Chromium, at a phone's 390×844, through the dashboard's alerts and
// administration pages, as three users:
// - an administrator creates a site and an ingest key for it (shown once), a user with a
//   role on that site and an API key, all through the forms; back/forward walk the pages;
// - an analyst creates an alert rule with a webhook channel (a bad URL first: refused,
//   the message next to the URL input), sends a test (the receiver answers: ok), mutes
//   edits it, mutes and deletes it, and sees the history of the rule the test fired;
// - a viewer is offered neither page (not even through the URL) and the API answers 403.
//   (Everyone is offered their own email reports.)
// Every page is screenshot (light, and the alerts page dark too), has no horizontal
// scroll and no WCAG 2.2 AA violation axe-core finds (light and dark); opening a page
// logs no console error and fails no request.
//
//   node admin.mjs <gateway base URL> <site domain> <webhook URL> <screenshot dir>
//   TALLY_ADMIN_EMAIL, TALLY_ANALYST_EMAIL, TALLY_VIEWER_EMAIL (analyst and viewer of
//   the site), TALLY_TEST_PASSWORD
//
// Prints one JSON line with what it made; any failed check throws (exit status 1).
import { mkdirSync } from "node:fs";
import { accessible, launch, check, collectErrors, noHorizontalScroll, watchErrors } from "./chromium.mjs";

const [base, site, webhook, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";

const browser = await launch();

/** A phone-sized browser signed in as `email`, on the stats of the site. */
async function signIn(email) {
  const context = await browser.newContext({ userAgent: UA, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  const errors = [];
  collectErrors(page, errors);
  page.on("dialog", (d) => d.accept());
  failures.set(page, watchErrors(page));
  await page.goto(`${base}/?site=${encodeURIComponent(site)}`);
  await page.waitForSelector("#login", { timeout: 30000 });
  await page.fill("#login input[name=email]", email);
  await page.fill("#login input[name=password]", process.env.TALLY_TEST_PASSWORD);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("body[data-page=stats]", { timeout: 30000 });
  return { context, page, errors };
}

/** Console errors and failed requests of each signed-in page. */
const failures = new Map();

/** Follows the navigation link to `name` and waits for the page's first load. */
async function open(page, name) {
  failures.get(page).splice(0);
  await page.click(`.page-nav a[data-page=${name}]`);
  await page.waitForSelector(`#page-${name}[data-loaded], #page-${name} > .error:not([hidden])`, { timeout: 30000 });
  const error = await page.$(`#page-${name} > .error:not([hidden])`);
  check(!error, `the ${name} page: ${error && (await error.textContent())}`);
  check(new URL(page.url()).searchParams.get("page") === name, `page=${name} in the URL`);
  const failed = failures.get(page).splice(0);
  check(failed.length === 0, `opening the ${name} page: ${failed.join(", ")}`);
}

async function shot(page, name) {
  await noHorizontalScroll(page, name);
  await accessible(page, name);
  if (!name.endsWith("-dark")) {
    await page.emulateMedia({ colorScheme: "dark" });
    await accessible(page, `${name}, dark`);
    await page.emulateMedia({ colorScheme: "light" });
  }
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

const nav = (page) => page.$$eval(".page-nav a", (as) => as.map((a) => a.dataset.page));
const seen = {};
try {
  // The administrator.
  const admin = await signIn(process.env.TALLY_ADMIN_EMAIL);
  let page = admin.page;
  const pages = await nav(page);
  check(JSON.stringify(pages) === JSON.stringify(["stats", "alerts", "goals", "sharing", "reports", "sites", "users", "keys"]), `an administrator's pages: ${pages}`);
  await open(page, "sites");
  await page.fill("#site-form input[name=domain]", "shop.example");
  await page.fill("#site-form input[name=timezone]", "Europe/Berlin");
  await page.click("#site-form button[type=submit]");
  const shop = page.locator('[data-site="shop.example"]');
  await shop.waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll("select[name=site] option")].some((o) => o.value === "shop.example"));
  await shop.locator("button.new-ingest-key").click();
  const ingestKey = await shop.locator(".shown-once .secret").textContent();
  check(ingestKey.length >= 16, `an ingest key is shown: ${ingestKey}`);
  check((await shop.locator(".keys li").count()) === 1, "the site lists its ingest key");
  seen.ingestKey = ingestKey;
  await shot(page, "admin-sites-390x844");

  await open(page, "users");
  await page.fill("#user-form input[name=email]", "new.analyst@shop.example");
  await page.fill("#user-form input[name=password]", "short");
  await page.click("#user-form button[type=submit]");
  const refused = page.locator('#user-form [data-field=password] .field-error:not([hidden])');
  await refused.waitFor();
  await page.fill("#user-form input[name=password]", "a long enough password");
  await page.click("#user-form button[type=submit]");
  const newUser = page.locator('[data-user="new.analyst@shop.example"]');
  await newUser.waitFor();
  await newUser.locator(".add-membership select[name=site]").selectOption({ label: "shop.example" });
  await newUser.locator(".add-membership select[name=new_role]").selectOption("analyst");
  await newUser.locator(".add-membership button").click();
  await newUser.locator(".memberships li select[name=role]").waitFor();
  check((await newUser.locator(".memberships select[name=role]").inputValue()) === "analyst", "the new user is an analyst of shop.example");
  await shot(page, "admin-users-390x844");

  await open(page, "keys");
  await page.fill("#key-form input[name=name]", "export script");
  await page.click("#key-form button[type=submit]");
  const apiKey = await page.locator("#page-keys .shown-once .secret").textContent();
  check(apiKey.startsWith("ta_"), `an API key is shown: ${apiKey}`);
  check((await page.locator("#page-keys tbody tr").count()) === 1, "the key is listed");
  await shot(page, "admin-keys-390x844");

  // Back and forward walk through the pages.
  await page.goBack();
  await page.waitForSelector("body[data-page=users]");
  await page.goBack();
  await page.waitForSelector("body[data-page=sites]");
  await page.goForward();
  await page.waitForSelector("body[data-page=users]");
  check(admin.errors.length === 0, `no uncaught errors: ${admin.errors}`);
  await admin.context.close();

  // The analyst.
  const analyst = await signIn(process.env.TALLY_ANALYST_EMAIL);
  page = analyst.page;
  check(JSON.stringify(await nav(page)) === JSON.stringify(["stats", "alerts", "goals", "reports"]), "an analyst is offered the alerts, goals and email reports");
  await open(page, "alerts");
  const history = await page.$$eval("#page-alerts .history tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  check(history.length === 1 && history[0][1] === "Any traffic" && history[0][2] === "firing", `the history: ${JSON.stringify(history)}`);
  await page.click("#new-rule");
  await page.fill("#alert-form input[name=name]", "Traffic spike");
  await page.selectOption("#alert-form select[name=metric]", "pageviews");
  await page.fill("#alert-form input[name=window_minutes]", "30");
  await page.selectOption("#alert-form select[name=condition]", "above");
  await page.fill("#alert-form input[name=threshold]", "500");
  await page.fill("#alert-form input[name=webhook]", "ftp://hooks.example/tally");
  await page.click("#alert-form button[type=submit]");
  const urlError = page.locator('#alert-form [data-field="channels[0]"] .field-error:not([hidden])');
  await urlError.waitFor();
  const message = await urlError.textContent();
  check(message.includes("channels[0].url") && message.includes("http"), `the URL's error next to it: ${message}`);
  await shot(page, "alerts-form-error-390x844");
  await page.fill("#alert-form input[name=webhook]", webhook);
  await page.click("#alert-form button[type=submit]");
  await page.waitForSelector("#alert-form", { state: "detached" });
  const rule = page.locator("li.rule", { hasText: "Traffic spike" });
  await rule.waitFor();
  const ruleId = await rule.getAttribute("data-rule-id");
  const readRule = async () => (await analyst.context.request.get(`${base}/api/v1/alerts/rules/${ruleId}`)).json();
  const stored = await readRule();
  check(stored.metric === "pageviews" && stored.window_minutes === 30 && stored.threshold === 500 && stored.channels[0].url === webhook, `stored rule ${JSON.stringify(stored)}`);

  // Editing: the form shows the rule; a new threshold is saved, the webhook keeps its secret.
  await rule.locator("button.edit").click();
  check((await page.inputValue("#alert-form input[name=threshold]")) === "500", "the edit form shows the threshold");
  await page.fill("#alert-form input[name=threshold]", "750");
  await page.click("#alert-form button[type=submit]");
  await page.waitForSelector("#alert-form", { state: "detached" });
  await page.waitForSelector('li.rule:has-text("above 750")');
  const edited = await readRule();
  check(edited.threshold === 750 && edited.channels[0].secret === stored.channels[0].secret, `edited rule ${JSON.stringify(edited)}`);

  await rule.locator("button.test").click();
  const result = rule.locator(".test-results li");
  await result.waitFor();
  check((await result.getAttribute("data-ok")) === "true", `test result: ${await result.textContent()}`);
  await shot(page, "alerts-390x844");
  await page.emulateMedia({ colorScheme: "dark" });
  await shot(page, "alerts-390x844-dark");
  await page.emulateMedia({ colorScheme: "light" });

  await rule.locator("button.mute-button").click();
  await page.waitForSelector('li.rule[data-muted="true"]');
  const muted = await readRule();
  check(muted.muted_until && new Date(muted.muted_until) > new Date(), `muted until ${muted.muted_until}`);
  await rule.locator("button.delete").click();
  await rule.waitFor({ state: "detached" });
  const gone = await analyst.context.request.get(`${base}/api/v1/alerts/rules/${ruleId}`);
  check(gone.status() === 404, `the deleted rule answers ${gone.status()}`);
  check(analyst.errors.length === 0, `no uncaught errors: ${analyst.errors}`);
  seen.rule = Number(ruleId);
  await analyst.context.close();

  // The viewer: only the stats (and their own email reports), even for a URL naming
  // another page; the API refuses.
  const viewer = await signIn(process.env.TALLY_VIEWER_EMAIL);
  page = viewer.page;
  check(JSON.stringify(await nav(page)) === JSON.stringify(["stats", "reports"]), "a viewer is offered only the stats and email reports");
  await page.goto(`${base}/?site=${encodeURIComponent(site)}&page=alerts`);
  await page.waitForSelector("body[data-page=stats]");
  check((await page.locator("#page-alerts").count()) === 0, "no alerts page for a viewer");
  for (const path of [`/api/v1/alerts/rules?site=${site}`, "/api/v1/users"]) {
    const resp = await viewer.context.request.get(`${base}${path}`);
    check(resp.status() === 403, `a viewer's GET ${path} answered ${resp.status()}`);
  }
  await shot(page, "viewer-390x844");
  await viewer.context.close();
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
