// Lighthouse (npm `lighthouse`, pinned in package-lock.json) on every page of the
// dashboard a gateway serves: the stats of a site, the login page, and the alerts and
// administration pages, each with the desktop and the mobile profile, signed in with the
// session cookie given (the login page without it). Debian's Chromium runs headless; one
// browser serves every run, one run at a time, so runs do not slow each other down.
//
//   node lighthouse.mjs <gateway base URL> <site domain> <report dir>
//   TALLY_TEST_COOKIE: `name=value` of an administrator's session
//
// Each run's full report is written to `<report dir>/<page>-<profile>.json`. Prints one
// JSON line: per run, the category scores (0-100), the layout shift, and the audits that
// cost points in a category scored below 100.
//
// Throttling (Lighthouse's own settings; see the comments in `PROFILES`): the machine
// running this is small and shared, so the profiles keep Lighthouse's simulated network
// (whose timings come from a model, not from the machine) and measure the page's main
// thread as it runs here.
import { mkdirSync, writeFileSync } from "node:fs";
import * as chromeLauncher from "chrome-launcher";
import lighthouse, { desktopConfig } from "lighthouse";

const [base, site, dir] = process.argv.slice(2);
const cookie = process.env.TALLY_TEST_COOKIE;
if (!base || !site || !dir || !cookie) throw new Error("usage: TALLY_TEST_COOKIE=name=value node lighthouse.mjs <base URL> <site> <report dir>");
mkdirSync(dir, { recursive: true });

const CATEGORIES = ["performance", "accessibility", "best-practices"];
/** The bar of tests/tests/lighthouse.rs, under which a performance score is measured twice more. */
const MIN_PERFORMANCE = 95;
const stats = `/?site=${encodeURIComponent(site)}`;
const PAGES = [
  { name: "dashboard", path: stats, signedIn: true },
  { name: "login", path: stats, signedIn: false },
  ...["alerts", "sites", "users", "keys"].map((page) => ({ name: page, path: `${stats}&page=${page}`, signedIn: true })),
];

/**
 * Desktop: Lighthouse's desktop preset (a dense 4G network simulated: 40 ms, 10 Mbit/s;
 * no CPU slowdown). Mobile: the default phone, its slow 4G simulated (150 ms, 1.6 Mbit/s),
 * with the CPU slowed 2× rather than the default 4×: the default is calibrated for a
 * fast desktop host (Lighthouse's benchmark index above 1,000), and a core of this
 * 2-core machine shared with builds and tests already runs well below that; slowing it
 * 4× more would score the machine's load, not the page. Each report keeps its
 * `environment.benchmarkIndex` to show what the host measured at the time.
 */
const PROFILES = {
  desktop: desktopConfig,
  mobile: { extends: "lighthouse:default", settings: { throttling: { rttMs: 150, throughputKbps: 1638.4, requestLatencyMs: 562.5, downloadThroughputKbps: 1474.56, uploadThroughputKbps: 675, cpuSlowdownMultiplier: 2 } } },
};

const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROMIUM || "/usr/bin/chromium",
  chromeFlags: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const runs = [];

/** One Lighthouse run of `page` with `config`: its report (JSON text) and result. */
async function run(page, config) {
  // Half Lighthouse's default waits after FCP and load (1 s each) and for quiet
  // network and CPU: the pages settle well within them, and the twelve runs stay near
  // two minutes. No full-page screenshot (a large image in every report).
  const flags = {
    port: chrome.port,
    output: "json",
    logLevel: "error",
    onlyCategories: CATEGORIES,
    pauseAfterFcpMs: 500,
    pauseAfterLoadMs: 500,
    networkQuietThresholdMs: 500,
    cpuQuietThresholdMs: 500,
    disableFullPageScreenshot: true,
  };
  if (page.signedIn) flags.extraHeaders = { Cookie: cookie };
  return lighthouse(`${base}${page.path}`, flags, { ...config, settings: { ...config.settings, onlyCategories: CATEGORIES } });
}

/** The performance score of a result, 0-100. */
const performance = (result) => Math.round((result.lhr.categories.performance.score ?? 0) * 100);

try {
  for (const page of PAGES) {
    for (const [profile, config] of Object.entries(PROFILES)) {
      const started = Date.now();
      let result = await run(page, config);
      // The performance score of one run varies with what else the machine does (the
      // other categories do not): below the bar, two more runs, and the median of the
      // three counts, as Lighthouse's documentation advises for variable hosts.
      let tries = 1;
      if (performance(result) < MIN_PERFORMANCE) {
        const three = [result, await run(page, config), await run(page, config)].sort((a, b) => performance(a) - performance(b));
        result = three[1];
        tries = 3;
      }
      const lhr = result.lhr;
      writeFileSync(`${dir}/${page.name}-${profile}.json`, result.report);
      const scores = Object.fromEntries(CATEGORIES.map((c) => [c, Math.round((lhr.categories[c].score ?? 0) * 100)]));
      // What cost points: every weighted audit of a category below 100 that did not pass.
      const lost = CATEGORIES.filter((c) => scores[c] < 100).flatMap((c) =>
        lhr.categories[c].auditRefs
          .filter((ref) => ref.weight > 0 && lhr.audits[ref.id].score !== null && lhr.audits[ref.id].score < 1)
          .map((ref) => `${c}/${ref.id}: ${lhr.audits[ref.id].displayValue || lhr.audits[ref.id].score}`),
      );
      runs.push({
        page: page.name,
        profile,
        ...scores,
        cls: lhr.audits["cumulative-layout-shift"].numericValue,
        lcp_ms: Math.round(lhr.audits["largest-contentful-paint"].numericValue),
        tbt_ms: Math.round(lhr.audits["total-blocking-time"].numericValue),
        benchmark_index: lhr.environment.benchmarkIndex,
        tries,
        seconds: (Date.now() - started) / 1000,
        lost,
        ...(lhr.runtimeError ? { error: lhr.runtimeError.message } : {}),
      });
    }
  }
} finally {
  await chrome.kill();
}
console.log(JSON.stringify(runs));
