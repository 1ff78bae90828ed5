// The dashboard's speed as a person meets it (benches/dashboard.sh): headless Chromium
// signs in once (TALLY_BENCH_EMAIL / TALLY_BENCH_PASSWORD), then opens the dashboard
// `runs` times, each in a fresh browser context holding only the session cookie, and
// records the time from navigation start to the first complete render (every panel
// settled, `body[data-first-render-ms]`) and the duration of every API call the page
// made (request start to response end, as the browser saw it: queueing behind the
// page's other calls included). Then each distinct call is replayed alone, one at a
// time, to tell the engine's cost from the contention of eight concurrent queries,
// and from a blank page of a fresh context, to tell it from the browser's start-up.
//
//   node dashboard-bench.mjs <gateway base URL> <site domain> <runs> [query string]
//
// Prints one JSON object: {first_render_ms: [...], calls: {label: [ms, ...]},
// server: {label: [ms, ...]} (the gateway's Server-Timing of the same calls),
// alone: {label: [ms, ...]}, fresh_context: {label: [ms, ...]}}.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { launch } from "./chromium.mjs";

const [base, site, runs = "5", extra = ""] = process.argv.slice(2);
const UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const browser = await launch();
lowerPriority(process.env.TALLY_BENCH_BROWSER_NICE);

/** Sets the nice value of this script's session and of Chromium's (autogroups:
 * Playwright starts Chromium in a session of its own; the kernel's scheduler weighs
 * each session as one against the server's, see benches/dashboard.sh). Chromium's
 * processes are this script's children. */
function lowerPriority(nice) {
  if (!nice || nice === "0") return;
  writeFileSync("/proc/self/autogroup", String(nice));
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // gone since listed
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === process.pid) writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  }
}

/** A name for an API call: the panel's dimension, `kpis` without one; a batch by its
 * questions' names. */
function label(request) {
  const path = new URL(request.url()).pathname;
  const name = (q) => q.dimensions?.[0] || "kpis";
  if (path === "/api/v1/query/batch") return `batch: ${JSON.parse(request.postData()).queries.map(name).join(", ")}`;
  if (path !== "/api/v1/query") return path;
  return name(JSON.parse(request.postData() || "{}"));
}

const signIn = await browser.newContext({ userAgent: UA });
const answer = await signIn.request.post(`${base}/api/v1/auth/login`, {
  data: { email: process.env.TALLY_BENCH_EMAIL, password: process.env.TALLY_BENCH_PASSWORD },
});
if (!answer.ok()) throw new Error(`login failed: ${answer.status()} ${await answer.text()}`);
const session = await signIn.storageState();

const result = { first_render_ms: [], calls: {}, server: {}, alone: {}, fresh_context: {} };
const bodies = new Map();
try {
  // Loads first, not recorded (TALLY_BENCH_WARMUP, 10): the gateway starts with the
  // bench, and a Postgres backend's first scans fault in and zero the memory they
  // work in (perf: clear_page_erms, 60-180 CPU-ms a load), which a running
  // gateway's pooled connections paid long before. Which backends a batch's shares
  // land on depends on what else the pool serves then, so one load does not warm
  // every one it will use.
  const warmup = Number(process.env.TALLY_BENCH_WARMUP ?? 10);
  for (let i = -warmup; i < Number(runs); i++) {
    const context = await browser.newContext({ userAgent: UA, viewport: { width: 1280, height: 800 }, storageState: session });
    const page = await context.newPage();
    const finished = [];
    page.on("requestfinished", (request) => {
      if (new URL(request.url()).pathname.startsWith("/api/v1/") && request.method() === "POST") finished.push(request);
    });
    await page.goto(`${base}/?site=${encodeURIComponent(site)}${extra ? `&${extra}` : ""}`);
    await page.waitForFunction(() => document.body.dataset.firstRenderMs, null, { timeout: 60000, polling: 50 });
    const errors = await page.$$eval(".panel[data-state=error] .error", (els) => els.map((e) => e.textContent));
    if (errors.length) throw new Error(`panels failed: ${errors.join("; ")}`);
    if (i < 0) {
      await context.close();
      continue;
    }
    result.first_render_ms.push(Number(await page.evaluate(() => document.body.dataset.firstRenderMs)));
    // The gateway's own time for each call (its Server-Timing header, as the page's
    // resource timing holds it), the calls of a URL paired in the order they started.
    const server = await page.evaluate(() =>
      performance.getEntriesByType("resource").map((e) => [e.name, e.serverTiming.find((s) => s.name === "app")?.duration]));
    finished.sort((a, b) => a.timing().startTime - b.timing().startTime);
    for (const request of finished) {
      const t = request.timing();
      (result.calls[label(request)] ||= []).push(Math.round(t.responseEnd));
      const at = server.findIndex(([url]) => url === request.url());
      (result.server[label(request)] ||= []).push(at < 0 ? null : Math.round(server.splice(at, 1)[0][1]));
      bodies.set(label(request), [request.url(), request.postData()]);
    }
    await context.close();
  }
  for (const [name, [url, body]] of bodies) {
    for (let i = 0; i < Number(runs); i++) {
      const started = performance.now();
      const resp = await signIn.request.post(url, { headers: { "Content-Type": "application/json" }, data: body });
      if (!resp.ok()) throw new Error(`${name} answered ${resp.status()}`);
      await resp.body();
      (result.alone[name] ||= []).push(Math.round(performance.now() - started));
    }
    // The same call sent by a blank page of a fresh context as soon as it has loaded:
    // what the browser's own start-up (a new renderer process and context, on the same
    // two cores as the server) costs the call, without the dashboard's work.
    for (let i = 0; i < Number(runs); i++) {
      const context = await browser.newContext({ userAgent: UA, storageState: session });
      const page = await context.newPage();
      await page.goto(`${base}/healthz`);
      const ms = await page.evaluate(async ([url, body]) => {
        const started = performance.now();
        const resp = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body });
        if (!resp.ok) throw new Error(`answered ${resp.status}`);
        await resp.text();
        return Math.round(performance.now() - started);
      }, [url, body]);
      (result.fresh_context[name] ||= []).push(ms);
      await context.close();
    }
  }
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
