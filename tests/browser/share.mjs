// Drives headless Chromium through PDF export and public shared links:
// - an admin of the site (desktop, 1280×800) downloads the view as a PDF report with
//   the PDF button, schedules a monthly email report (an unknown time zone refused at
//   its input), opens the Sharing page, is refused a bad
//   embed origin next to its input, creates a password-protected link showing three
//   panels and an embeddable one, and reads each URL (shown once);
// - a visitor with no account opens the protected URL on a phone (390×844): a wrong
//   password is refused, the right one shows the site's dashboard with those three
//   panels only, no navigation, no CSV download, figures equal to the link's API;
// - a page on another origin frames the embeddable link (it renders) and the protected
//   one (Chromium refuses to show it: frame-ancestors 'none');
// - the admin revokes the protected link; the visitor's reload says it is gone.
// Screenshots (sharing page, shared dashboard on a phone, light and dark, the embedding
// page) go to the directory given; the pages pass axe-core's WCAG 2.2 AA checks.
//
//   node share.mjs <gateway base URL> <site domain> <screenshot dir>
//   TALLY_ADMIN_EMAIL (admin of the site), TALLY_TEST_PASSWORD
//
// Prints one JSON line with what it saw; any failed check throws (exit status 1).
import { createServer } from "node:http";
import { mkdirSync, readFileSync } from "node:fs";
import { accessible, check, collectErrors, launch, noHorizontalScroll } from "./chromium.mjs";

const [base, site, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
const PASSWORD = "quarterly review 2026";

// The other site that embeds the dashboard: a page of its own, on its own origin.
const host = createServer((req, res) => {
  const src = new URL(req.url, "http://x").searchParams.get("src");
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(
    `<!doctype html><html lang="en"><title>Blog</title><h1>Our traffic</h1><iframe id="stats" title="Stats" src="${src}" width="1000" height="700"></iframe>`,
  );
});
await new Promise((ready) => host.listen(0, "127.0.0.1", ready));
const hostOrigin = `http://127.0.0.1:${host.address().port}`;

const browser = await launch();
const errors = [];
const seen = {};

try {
  // --- The admin makes the links.
  const admin = await browser.newContext({ userAgent: DESKTOP_UA, viewport: { width: 1280, height: 800 } });
  const page = await admin.newPage();
  collectErrors(page, errors);
  page.on("dialog", (d) => d.accept());
  await page.goto(`${base}/?site=${encodeURIComponent(site)}`);
  await page.waitForSelector("#login");
  await page.fill("#login input[name=email]", process.env.TALLY_ADMIN_EMAIL);
  await page.fill("#login input[name=password]", process.env.TALLY_TEST_PASSWORD);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("body[data-page=stats]");
  await page.waitForFunction(() => Number(document.body.dataset.rendered || 0) > 0, null, { timeout: 30000 });
  // The view as a PDF report: a download of a PDF file named after the site.
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 60000 }), page.click(".pdf-export")]);
  const pdfPath = `${shots}/dashboard-view.pdf`;
  await download.saveAs(pdfPath);
  check(download.suggestedFilename().startsWith(`tally-${site}-`) && readFileSync(pdfPath).subarray(0, 4).toString() === "%PDF", `the PDF download: ${download.suggestedFilename()}`);
  seen.pdf = download.suggestedFilename();
  // An email report of the site: an unknown time zone is refused at its input, then
  // a weekly one is listed with its next email.
  await page.click(".page-nav a[data-page=reports]");
  await page.waitForSelector("#page-reports[data-loaded]");
  check((await page.inputValue("#report-form input[name=timezone]")) === "UTC", "the site's time zone is the default");
  await page.fill("#report-form input[name=timezone]", "Mars/Olympus_Mons");
  await page.click("#report-form button[type=submit]");
  const tzError = await page.waitForSelector('#report-form [data-field="timezone"] .field-error:not([hidden])');
  check((await tzError.textContent()).includes("unknown time zone"), "the bad zone's message is at its input");
  await page.fill("#report-form input[name=timezone]", "Europe/Berlin");
  await page.selectOption("#report-form select[name=frequency]", "monthly");
  await page.click("#report-form button[type=submit]");
  await page.waitForSelector("#page-reports tbody tr");
  const schedule = await page.$$eval("#page-reports tbody tr td", (tds) => tds.map((td) => td.textContent));
  check(schedule[0] === site && schedule[1] === "monthly" && schedule[2].includes("Europe/Berlin 08:00"), `the schedule: ${schedule}`);
  await accessible(page, "email reports page");
  await page.screenshot({ path: `${shots}/reports-1280x800.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await noHorizontalScroll(page, "email reports page on a phone");
  await page.screenshot({ path: `${shots}/reports-390x844.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.click(".page-nav a[data-page=sharing]");
  await page.waitForSelector("#page-sharing[data-loaded]");

  /** Fills the form and submits it; resolves once the page reloaded its list. */
  async function createLink({ name, password = "", panels = null, embed = false, origins = "" }) {
    const loads = await page.$eval("#page-sharing", (el) => Number(el.dataset.loaded));
    await page.fill("#share-form input[name=name]", name);
    await page.fill("#share-form input[name=password]", password);
    for (const box of await page.$$("#share-form input[name=panels]")) {
      await box.setChecked(panels === null || panels.includes(await box.getAttribute("value")));
    }
    await page.locator("#share-form input[name=embed]").setChecked(embed);
    await page.fill("#share-form input[name=embed_origins]", origins);
    await page.click("#share-form button[type=submit]");
    return loads;
  }

  // A bad origin: refused next to its input, nothing created.
  await createLink({ name: "bad", embed: true, origins: "https://x.example/some/path" });
  const refused = await page.waitForSelector('#share-form [data-field="embed_origins"] .field-error:not([hidden])');
  check((await refused.textContent()).includes("not an origin"), "the bad origin's message is at its input");

  let loads = await createLink({ name: "Board", password: PASSWORD, panels: ["kpis", "chart", "pages"] });
  await page.waitForFunction((n) => Number(document.querySelector("#page-sharing").dataset.loaded) > n, loads);
  const protectedUrl = (await page.textContent("#page-sharing .shown-once code")).trim();
  check(/\/share\/ts_[0-9a-f]{64}$/.test(protectedUrl), `the link's URL: ${protectedUrl}`);
  loads = await createLink({ name: "Blog", embed: true, origins: hostOrigin });
  await page.waitForFunction((n) => Number(document.querySelector("#page-sharing").dataset.loaded) > n, loads);
  const embedUrl = (await page.textContent("#page-sharing .shown-once code")).trim();
  const rows = await page.$$eval("#page-sharing tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  check(rows.length === 2 && rows[0][1] === "Overview, Chart, Pages" && rows[0][2] === "yes" && rows[1][3] === hostOrigin, `the list: ${JSON.stringify(rows)}`);
  await noHorizontalScroll(page, "sharing page");
  await accessible(page, "sharing page");
  await page.screenshot({ path: `${shots}/sharing-1280x800.png`, fullPage: true });

  // --- A visitor without an account, on a phone.
  for (const scheme of ["light", "dark"]) {
    const visitor = await browser.newContext({ userAgent: PHONE_UA, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: scheme });
    const v = await visitor.newPage();
    collectErrors(v, errors);
    await v.goto(protectedUrl);
    await v.waitForSelector("#unlock");
    await v.fill("#unlock input[name=password]", "not the password");
    await v.click("#unlock button[type=submit]");
    await v.waitForSelector("#unlock-error:not([hidden])");
    check((await v.textContent("#unlock-error")) === "Wrong password.", "a wrong password is refused");
    await v.fill("#unlock input[name=password]", PASSWORD);
    await v.click("#unlock button[type=submit]");
    await v.waitForFunction(() => Number(document.body.dataset.rendered || 0) > 0, null, { timeout: 30000 });
    const panels = await v.$$eval(".grid > .panel", (els) => els.map((e) => e.dataset.panel));
    check(JSON.stringify(panels) === '["kpis","chart","pages"]', `the shared panels: ${panels}`);
    check(!(await v.isVisible(".page-nav")) && !(await v.isVisible(".logout")) && !(await v.isVisible(".realtime")), "no navigation, account or live count");
    check(!(await v.isVisible('.export[aria-label^="Download"]')), "no CSV download");
    // The figures are the link's API's, asked the same way (with the unlock the page holds).
    const token = protectedUrl.split("/").pop();
    const unlock = await v.evaluate((t) => sessionStorage.getItem(`tally-unlock-${t}`), token);
    const q = { site_id: site, date_range: "30d", filters: [], metrics: ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"], include: { comparisons: { mode: "previous_period" } } };
    const resp = await visitor.request.post(`${base}/api/v1/share/${token}/query`, { data: q, headers: { "X-Tally-Share-Unlock": unlock } });
    check(resp.ok(), `the link's API: ${resp.status()}`);
    const api = (await resp.json()).results[0].metrics;
    const shown = await v.$$eval("#panel-kpis .card-value", (els) => els.map((e) => Number(e.dataset.value)));
    check(JSON.stringify(shown) === JSON.stringify(api), `shared KPIs ${shown} ≠ API ${api}`);
    seen.visitors = api[0];
    // The signed-in API stays closed to the visitor.
    check((await visitor.request.get(`${base}/api/v1/sites`)).status() === 401, "the visitor has no session");
    await noHorizontalScroll(v, `shared dashboard (${scheme})`);
    await accessible(v, `shared dashboard (${scheme})`);
    await v.screenshot({ path: `${shots}/shared-phone-390x844-${scheme}.png`, fullPage: true });
    await visitor.close();
  }

  // --- Framed by another site: the embeddable link renders, the protected one is refused.
  const blog = await browser.newContext({ userAgent: DESKTOP_UA, viewport: { width: 1100, height: 820 } });
  const b = await blog.newPage();
  await b.goto(`${hostOrigin}/?src=${encodeURIComponent(embedUrl)}`);
  const frame = await (await b.waitForSelector("#stats")).contentFrame();
  await frame.waitForFunction(() => Number(document.body.dataset.rendered || 0) > 0, null, { timeout: 30000 });
  check((await frame.$$(".grid > .panel")).length === 9, "the embedded dashboard shows its panels");
  check(await frame.evaluate(() => "embedded" in document.body.dataset), "the embedded layout");
  await b.waitForTimeout(500);
  await b.screenshot({ path: `${shots}/shared-embedded-1100x820.png` });
  const blocked = await blog.newPage();
  const refusals = [];
  blocked.on("console", (m) => /frame-ancestors|refused to frame/i.test(m.text()) && refusals.push(m.text()));
  await blocked.goto(`${hostOrigin}/?src=${encodeURIComponent(protectedUrl)}`);
  await blocked.waitForTimeout(1500);
  const inner = await (await blocked.$("#stats")).contentFrame();
  const framed = await inner.evaluate(() => Boolean(document.getElementById("app"))).catch(() => false);
  check(!framed && refusals.length > 0, `a link that is not embeddable was framed (${refusals.join(" ")})`);
  seen.embed_refused = refusals.length;

  // --- Revoked: the visitor's next load says it is gone.
  await page.click('#page-sharing tbody tr:first-child button:has-text("Revoke")');
  await page.waitForFunction(() => document.querySelectorAll("#page-sharing tbody tr").length === 1);
  const late = await browser.newContext({ userAgent: PHONE_UA, viewport: { width: 390, height: 844 } });
  const l = await late.newPage();
  const answer = await l.goto(protectedUrl);
  check(answer.status() === 404, `the revoked link's page: ${answer.status()}`);
  check((await l.textContent("body")).includes("does not exist or was revoked"), "the revoked link says so");

  check(errors.length === 0, `page errors or CSP violations: ${errors.join("\n")}`);
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
  host.close();
}
