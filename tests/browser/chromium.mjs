// What every browser script shares: Debian's Chromium launched headless through
// playwright-core (the flags this sandbox-less machine needs), and the checks the
// scripts make of their pages.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

/** Headless Chromium: $CHROMIUM or Debian's /usr/bin/chromium, with `args` of the caller's. */
export function launch(args = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", ...args],
  });
}

/**
 * Collects into `errors` what `page` throws and every Content-Security-Policy
 * violation (Chromium reports each as a console error): the dashboard must work under
 * the gateway's policy without tripping it.
 */
export function collectErrors(page, errors) {
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) errors.push(m.text());
  });
}

/** Throws `what` unless `ok`: a failed check ends the script with status 1. */
export function check(ok, what) {
  if (!ok) throw new Error(what);
}

/** Checks that `page` is no wider than its viewport (usable on a phone). */
export async function noHorizontalScroll(page, what) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  check(scroll <= client, `${what}: page is ${scroll}px wide in a ${client}px viewport`);
}

const AXE = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");

/**
 * Runs axe-core (npm) on `page` as it is now, against WCAG 2.2 A and AA, and throws with
 * every violation (rule, impact, the elements and what to fix) unless there is none.
 * Returns the number of rules that passed, so a caller can tell a page was checked.
 */
export async function accessible(page, what) {
  // Evaluated through the DevTools protocol, which the gateway's content security policy
  // does not govern; a <script> tag (addScriptTag) would be refused as inline script.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] }, resultTypes: ["violations"] }),
  );
  const found = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.slice(0, 5).map((n) => `    ${n.target.join(" ")}: ${n.failureSummary.replace(/\n/g, " ")}`).join("\n")}`,
  );
  check(found.length === 0, `${what}: ${found.length} accessibility violations (axe-core)\n  ${found.join("\n  ")}`);
  return result.passes.length;
}

/**
 * Sums the page's layout shifts (as Chrome reports them, those right after input left
 * out, as CLS does) from its first paint on, into `window.layoutShift`.
 */
export function measureLayoutShift() {
  window.layoutShift = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) window.layoutShift += e.value;
  }).observe({ type: "layout-shift", buffered: true });
}

/** Console errors (failed requests among them) and answers of 400 or more, as they come. */
export function watchErrors(page) {
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  return errors;
}

