// Drives headless Chromium through the goals page, the funnel and property pickers and
// the segment picker, as an analyst of the site, once at a desktop's 1280×800 and once
// at a phone's 390×844 (each size makes its own goals, funnel and segment, named with
// its width):
// - a page goal with a pattern missing its slash is refused next to the pattern input,
//   then created; an event goal with a currency (a revenue goal) too;
// - a funnel with a step left unchosen is refused next to that step, then created; the
//   page goal renamed: the funnel's steps follow;
// - the stats' funnel panel offers the funnel and shows its steps; the property panel
//   offers the key `plan` and shows its values;
// - the country filter saved as a segment: the dashboard is then filtered by the segment
//   (`f=is|segment|<id>` in the URL), and its visitors equal the filter's.
// Each view is screenshot, has no horizontal scroll and no WCAG 2.2 AA violation
// axe-core finds (light and dark); no uncaught error.
//
//   node goals.mjs <gateway base URL> <site domain> <screenshot dir>
//   TALLY_ANALYST_EMAIL (analyst of the site), TALLY_TEST_PASSWORD
//
// Prints one JSON line: per size, the segment's id and the visitors shown with it.
import { mkdirSync } from "node:fs";
import { accessible, check, collectErrors, launch, noHorizontalScroll } from "./chromium.mjs";

const [base, site, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

const SIZES = [
  { name: "1280x800", viewport: { width: 1280, height: 800 }, isMobile: false },
  { name: "390x844", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
];

async function shot(page, name) {
  await noHorizontalScroll(page, name);
  await accessible(page, name);
  await page.emulateMedia({ colorScheme: "dark" });
  await accessible(page, `${name}, dark`);
  await page.screenshot({ path: `${shots}/${name}-dark.png`, fullPage: true });
  await page.emulateMedia({ colorScheme: "light" });
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

/** Waits for the stats to settle after the render numbered above `before`. */
async function rendered(page, before) {
  await page.waitForFunction((n) => Number(document.body.dataset.rendered || 0) > n, before, { timeout: 30000 });
}
const renders = (page) => page.evaluate(() => Number(document.body.dataset.rendered || 0));

/** The message shown at the form's field `field` once the gateway refused it. */
async function refusedAt(page, form, field) {
  const error = page.locator(`${form} [data-field="${field}"] .field-error:not([hidden])`);
  await error.waitFor({ timeout: 15000 });
  const input = page.locator(`${form} [data-field="${field}"] [aria-invalid=true]`);
  check((await input.count()) > 0, `${form} ${field}: the input is marked invalid`);
  return error.textContent();
}

const browser = await launch();
const seen = {};
try {
  for (const size of SIZES) {
    const n = size.viewport.width;
    const context = await browser.newContext({ viewport: size.viewport, isMobile: size.isMobile, hasTouch: size.hasTouch ?? false, deviceScaleFactor: size.deviceScaleFactor ?? 1 });
    const page = await context.newPage();
    const errors = [];
    collectErrors(page, errors);
    page.on("dialog", (d) => d.accept());
    await page.goto(`${base}/?site=${encodeURIComponent(site)}`);
    await page.waitForSelector("#login", { timeout: 30000 });
    await page.fill("#login input[name=email]", process.env.TALLY_ANALYST_EMAIL);
    await page.fill("#login input[name=password]", process.env.TALLY_TEST_PASSWORD);
    await page.click("#login button[type=submit]");
    await page.waitForSelector("body[data-page=stats]", { timeout: 30000 });

    // Goals: a refused pattern, then the page goal and a revenue goal.
    await page.click(".page-nav a[data-page=goals]");
    await page.waitForSelector("#page-goals[data-loaded]", { timeout: 30000 });
    await page.click("#new-goal");
    await page.fill("#goal-form input[name=name]", `Pricing ${n}`);
    await page.selectOption("#goal-form select[name=kind]", "page");
    await page.fill("#goal-form input[name=page_pattern]", "pricing");
    await page.click("#goal-form button[type=submit]");
    const patternError = await refusedAt(page, "#goal-form", "page_pattern");
    check(patternError.includes("path"), `the pattern's error: ${patternError}`);
    await shot(page, `goals-form-error-${size.name}`);
    await page.fill("#goal-form input[name=page_pattern]", "/pricing*");
    await page.click("#goal-form button[type=submit]");
    await page.waitForSelector("#goal-form", { state: "detached" });
    await page.click("#new-goal");
    await page.fill("#goal-form input[name=name]", `Signup ${n}`);
    await page.fill("#goal-form input[name=event_name]", "Signup");
    await page.fill("#goal-form input[name=currency]", "eur");
    await page.click("#goal-form button[type=submit]");
    await page.waitForSelector("#goal-form", { state: "detached" });
    const revenue = await page.locator(`tr[data-goal="Signup ${n}"]`).textContent();
    check(revenue.includes("revenue in EUR"), `the revenue goal's row: ${revenue}`);

    // A funnel: a step left unchosen is refused at that step.
    await page.click("#new-funnel");
    await page.fill("#funnel-form input[name=name]", `Checkout ${n}`);
    await page.selectOption("#funnel-form select[name=step-0]", `Pricing ${n}`);
    await page.click("#funnel-form button[type=submit]");
    const stepError = await refusedAt(page, "#funnel-form", "steps[1]");
    check(stepError.includes("goal"), `the step's error: ${stepError}`);
    await page.selectOption("#funnel-form select[name=step-1]", `Signup ${n}`);
    await page.click("#funnel-form button[type=submit]");
    await page.waitForSelector("#funnel-form", { state: "detached" });
    // Renaming a goal renames it in the funnel.
    await page.locator(`tr[data-goal="Pricing ${n}"] button.edit`).click();
    await page.fill("#goal-form input[name=name]", `Saw pricing ${n}`);
    await page.click("#goal-form button[type=submit]");
    await page.waitForSelector("#goal-form", { state: "detached" });
    await page.waitForSelector(`tr[data-funnel="Checkout ${n}"]:has-text("Saw pricing ${n} → Signup ${n}")`);
    await shot(page, `goals-${size.name}`);

    // The stats: the funnel panel picks the funnel, the property panel the key.
    let before = await renders(page);
    await page.click(".page-nav a[data-page=stats]");
    await rendered(page, before);
    const funnelSelect = page.locator("#panel-funnel select[name=funnel]");
    await page.waitForSelector(`#panel-funnel select[name=funnel] option[value="Checkout ${n}"]`, { state: "attached" });
    before = await renders(page);
    await funnelSelect.selectOption(`Checkout ${n}`);
    await rendered(page, before);
    const steps = await page.$$eval("#panel-funnel tbody tr[data-value]", (rows) => rows.map((r) => r.dataset.value));
    check(JSON.stringify(steps) === JSON.stringify([`Saw pricing ${n}`, `Signup ${n}`]), `the funnel's steps: ${steps}`);
    before = await renders(page);
    await page.click("#panel-props [data-tab=props]");
    await rendered(page, before);
    await page.waitForSelector('#panel-props select[name=prop] option[value="plan"]', { state: "attached" });
    before = await renders(page);
    await page.selectOption("#panel-props select[name=prop]", "plan");
    await rendered(page, before);
    // Events without the property (the pageviews) are the row "(not set)", value "".
    const plans = await page.$$eval("#panel-props tbody tr[data-value]", (rows) => rows.map((r) => r.dataset.value).sort());
    check(JSON.stringify(plans) === JSON.stringify(["", "free", "pro"]), `the values of plan: ${plans}`);

    // A segment saved from the country filter, then filtering the dashboard.
    before = await renders(page);
    await page.goto(`${base}/?site=${encodeURIComponent(site)}&f=is|visit:country|DE`);
    await rendered(page, 0);
    const filtered = await page.locator('[data-metric=visitors] .card-value').getAttribute("data-value");
    await page.click("button.save-segment");
    await page.fill("#segment-form input[name=name]", "   ");
    await page.click("#segment-form button[type=submit]");
    await refusedAt(page, "#segment-form", "name");
    await page.fill("#segment-form input[name=name]", `Germans ${n}`);
    await page.check("#segment-form input[name=shared]");
    before = await renders(page);
    await page.click("#segment-form button[type=submit]");
    await rendered(page, before);
    const url = new URL(page.url());
    const segment = url.searchParams.getAll("f").find((f) => f.startsWith("is|segment|"))?.split("|")[2];
    check(segment && url.searchParams.getAll("f").length === 1, `the URL names the segment alone: ${url.search}`);
    check((await page.inputValue("select[name=segment]")) === segment, "the picker shows the segment");
    const withSegment = await page.locator('[data-metric=visitors] .card-value').getAttribute("data-value");
    check(withSegment === filtered, `visitors with the segment ${withSegment}, with its filter ${filtered}`);
    await shot(page, `segment-${size.name}`);
    // "All visitors" takes the segment off.
    before = await renders(page);
    await page.selectOption("select[name=segment]", "");
    await rendered(page, before);
    check(!new URL(page.url()).searchParams.getAll("f").length, "no filter left");
    check(errors.length === 0, `no uncaught errors: ${errors}`);
    seen[size.name] = { segment: Number(segment), visitors: Number(withSegment) };
    await context.close();
  }
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
