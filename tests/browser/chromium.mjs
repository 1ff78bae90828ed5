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
