// Event fields are the internet's to choose: the dashboard must show them as text. Signs
// in at the gateway argv[2], opens site argv[3] with its campaign tab, and checks that
// the markup the events carry (see tests/tests/xss_browser.rs) appears as literal text
// and ran nowhere: no dialog, no window.__xss, no element it tried to create.
import { launch, check } from "./chromium.mjs";

const [base, site] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.goto(`${base}/?site=${encodeURIComponent(site)}&period=7d&tab.sources=utm_campaign`);
  await page.waitForSelector("#login", { timeout: 30000 });
  await page.fill("#login input[name=email]", process.env.TALLY_TEST_EMAIL);
  await page.fill("#login input[name=password]", process.env.TALLY_TEST_PASSWORD);
  await page.click("#login button[type=submit]");
  await page.waitForFunction(() => Number(document.body.dataset.rendered || 0) > 0, null, { timeout: 30000 });
  const text = await page.evaluate(() => document.body.innerText);
  for (const shown of ["<img src=x onerror=window.__xss=1>", "<script>window.__xss=2</script>", "<svg onload=window.__xss=3>"]) {
    check(text.includes(shown), `the dashboard shows ${shown} as text`);
  }
  const ran = await page.evaluate(() => ({
    xss: window.__xss ?? null,
    injected: document.querySelectorAll("main img[src=x], main svg[onload], main script").length,
  }));
  check(ran.xss === null && ran.injected === 0 && dialogs.length === 0, `markup from events ran: ${JSON.stringify({ ...ran, dialogs })}`);
  console.log(JSON.stringify({ checked: 3 }));
} finally {
  await browser.close();
}
