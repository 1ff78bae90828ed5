// Bundles the dashboard: src/main.js (with uPlot and the CSS it imports) into
// dist/app.js + dist/app.css, and copies src/index.html. Run by
// scripts/build-dashboard.sh; `node build.mjs` works too.
import { copyFileSync, mkdirSync } from "node:fs";
import { build } from "esbuild";

const here = new URL(".", import.meta.url).pathname;
mkdirSync(`${here}dist`, { recursive: true });
await build({
  entryPoints: { app: `${here}src/main.js` },
  outdir: `${here}dist`,
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: true,
  target: ["chrome110", "firefox115", "safari16"],
  logLevel: "warning",
});
copyFileSync(`${here}src/index.html`, `${here}dist/index.html`);
