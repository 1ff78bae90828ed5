// Bundles the dashboard: src/main.js (with uPlot and the CSS it imports) into
// dist/app.js + dist/app.css, and copies src/index.html with the files it links to
// as they are (the icon, the web app manifest). Run by
// scripts/build-dashboard.sh; `node build.mjs` works too.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { build } from "esbuild";

const here = new URL(".", import.meta.url).pathname;
// From nothing: chunks of an earlier build (named by their hash) must not pile up.
rmSync(`${here}dist`, { recursive: true, force: true });
mkdirSync(`${here}dist`, { recursive: true });
await build({
  entryPoints: { app: `${here}src/main.js` },
  outdir: `${here}dist`,
  bundle: true,
  format: "esm",
  // uPlot goes in a chunk the chart imports when it first draws.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  sourcemap: true,
  target: ["chrome110", "firefox115", "safari16"],
  logLevel: "warning",
});
for (const file of ["index.html", "favicon.svg", "manifest.webmanifest"]) copyFileSync(`${here}src/${file}`, `${here}dist/${file}`);
