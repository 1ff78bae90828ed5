// Drives headless Chromium through the demo pages served by a gateway at argv[2] and
// checks that each step sends the expected number of events, each answered 202.
// The Rust test (tests/tests/tracker_browser.rs) then checks what was stored.
import { launch } from "./chromium.mjs";

const base = process.argv[2];
const browser = await launch();
// A regular desktop Chrome: the gateway drops HeadlessChrome as a bot.
const context = await browser.newContext({
  userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
});
const page = await context.newPage();
const answers = [];
page.on("response", (r) => { if (r.url().endsWith("/api/event")) answers.push(r.status()); });

async function expectEvents(total, what) {
  const deadline = Date.now() + 10000;
  while (answers.length < total && Date.now() < deadline) await page.waitForTimeout(25);
  // Anything beyond the expected count would show up here.
  await page.waitForTimeout(150);
  if (answers.length !== total || answers.some((s) => s !== 202)) {
    throw new Error(`${what}: expected ${total} events answered 202, got ${JSON.stringify(answers)}`);
  }
}

try {
  await page.goto(`${base}/demo.html`);
  await expectEvents(2, "queued call and first pageview");
  await page.click("#spa");
  await expectEvents(3, "pushState pageview");
  await page.evaluate(() => history.back());
  await expectEvents(4, "popstate pageview");
  await page.click("#signup");
  await expectEvents(5, "custom event");
  await page.click("#outbound");
  await expectEvents(6, "outbound link");
  await page.click("#download");
  await expectEvents(7, "file download");
  await page.goto(`${base}/hash.html`);
  await expectEvents(8, "hash page");
  await page.click("#inbox");
  await expectEvents(9, "hash route pageview");
  await page.goto(`${base}/demo.html`);
  await expectEvents(11, "demo page again");
  await page.click("#optout");
  await page.click("#signup");
  await page.reload();
  await page.click("#spa");
  await expectEvents(11, "opted out: nothing sent");
  console.log(JSON.stringify({ events: answers.length }));
} finally {
  await browser.close();
}
