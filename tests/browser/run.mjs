// Drives headless Chromium through the demo pages of tests/browser/site and checks that
// each step sends the expected number of events to the gateway at argv[2], each
// answered 202, with no CORS or other console error. The pages are served here, by a
// server of their own on another port, so the tracker runs as on a customer's site:
// loaded from the gateway's origin into another, posting across origins
// ({{GATEWAY}} in a page is the gateway's address). The site answers as site.test
// (resolved to 127.0.0.1 by Chromium alone), as the script ignores pages on localhost
// unless it is script.local.js; the local steps load it at 127.0.0.1. The Rust test
// (tests/tests/tracker_browser.rs) then checks what was stored.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { launch } from "./chromium.mjs";

const base = process.argv[2];
const siteDir = new URL("./site/", import.meta.url);
const site = createServer(async (req, res) => {
  const name = new URL(req.url, "http://x").pathname.slice(1);
  if (name === "favicon.ico") return res.writeHead(204).end();
  if (!/^[a-z-]+\.(html|js)$/.test(name)) return res.writeHead(404).end();
  try {
    const body = (await readFile(new URL(name, siteDir), "utf8")).replaceAll("{{GATEWAY}}", base);
    res.writeHead(200, { "content-type": name.endsWith(".js") ? "text/javascript" : "text/html; charset=utf-8" }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ready) => site.listen(0, "127.0.0.1", ready));
const origin = `http://site.test:${site.address().port}`;
const browser = await launch(["--host-resolver-rules=MAP site.test 127.0.0.1"]);
// A regular desktop Chrome: the gateway drops HeadlessChrome as a bot.
const context = await browser.newContext({
  userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
});
const page = await context.newPage();
const answers = [];
// Engagement reports (sent whenever a page is left) are counted apart: the steps below
// count the other events; the last step checks a report.
const engagements = [];
page.on("response", (r) => {
  if (!r.url().endsWith("/api/event")) return;
  const engagement = JSON.parse(r.request().postData() || "{}").n === "engagement";
  (engagement ? engagements : answers).push(r.status());
});
const consoleErrors = [];
page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
page.on("pageerror", (e) => consoleErrors.push(e.message));

async function expectEvents(total, what) {
  const deadline = Date.now() + 10000;
  while (answers.length < total && Date.now() < deadline) await page.waitForTimeout(25);
  // Anything beyond the expected count would show up here.
  await page.waitForTimeout(150);
  if (answers.length !== total || answers.some((s) => s !== 202)) {
    throw new Error(`${what}: expected ${total} events answered 202, got ${JSON.stringify(answers)}`);
  }
  if (consoleErrors.length) throw new Error(`${what}: console errors ${JSON.stringify(consoleErrors)}`);
}

try {
  await page.goto(`${origin}/demo.html`);
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
  await page.goto(`${origin}/hash.html`);
  await expectEvents(8, "hash page");
  await page.click("#inbox");
  await expectEvents(9, "hash route pageview");
  await page.goto(`${origin}/demo.html`);
  await expectEvents(11, "demo page again");
  await page.click("#optout");
  await page.click("#signup");
  await page.reload();
  await page.click("#spa");
  await expectEvents(11, "opted out: nothing sent");
  await page.evaluate(() => localStorage.removeItem("tally_ignore"));
  // A Plausible snippet, unchanged but for its host: script.outbound-links.js sends
  // pageviews and outbound clicks (not downloads), and answers window.plausible.
  await page.goto(`${origin}/plausible.html`);
  await expectEvents(13, "plausible queue and pageview");
  await page.click("#download");
  await page.click("#outbound");
  await expectEvents(14, "plausible outbound link, no download");
  // script.pageview-props.tagged-events.js: a click inside a tagged button, a tagged form's submission
  // (once, not also as the click on its button), nothing for an untagged button.
  await page.goto(`${origin}/tagged.html`);
  await expectEvents(15, "tagged-events pageview");
  await page.click("#tagged");
  await page.click("#send");
  await page.click("#untagged");
  await expectEvents(17, "tagged button and form");
  // Leaving a page scrolled to its end (an SPA route here) reports its engagement.
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await page.waitForTimeout(200);
  const before = engagements.length;
  await page.evaluate(() => history.pushState({}, "", "/tagged-next"));
  await expectEvents(18, "SPA route after the scroll");
  if (engagements.length !== before + 1 || engagements.some((s) => s !== 202)) {
    throw new Error(`engagement: expected one more report answered 202, got ${JSON.stringify(engagements)} (${before} before)`);
  }
  // script.exclusions.js: pageviews only where data-include and data-exclude let them
  // (this page and /shop/**, not right under /shop/private/); custom events anywhere.
  await page.goto(`${origin}/exclusions.html`);
  await expectEvents(19, "included page");
  await page.evaluate(() => history.pushState({}, "", "/elsewhere"));
  await page.evaluate(() => history.pushState({}, "", "/shop/private/x"));
  await page.evaluate(() => plausible("Excluded Page Event"));
  await expectEvents(20, "excluded pages: their custom event, no pageview");
  await page.evaluate(() => history.pushState({}, "", "/shop/a/b"));
  await page.evaluate(() => history.pushState({}, "", "/shop/private/x/y"));
  await expectEvents(22, "included pages under /shop/");
  // On a developer's machine the default script sends nothing, script.local.js does.
  const local = origin.replace("site.test", "127.0.0.1");
  await page.goto(`${local}/demo.html`);
  await page.click("#signup");
  await expectEvents(22, "localhost: nothing sent");
  await page.goto(`${local}/local.html`);
  await expectEvents(23, "local extension on localhost");
  // script.compat.js where document.currentScript is missing: found by id="plausible".
  await page.goto(`${origin}/compat.html`);
  await expectEvents(24, "compat pageview");
  console.log(JSON.stringify({ events: answers.length, site: origin }));
} finally {
  await browser.close();
  site.close();
}
