// What every browser script shares: Debian's Chromium launched headless through
// playwright-core (the flags this sandbox-less machine needs), and the checks the
// scripts make of their pages.
import { chromium } from "playwright-core";

/** Headless Chromium: $CHROMIUM or Debian's /usr/bin/chromium. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
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
