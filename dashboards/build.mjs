// Bundles the dashboard: src/main.js (with uPlot and the CSS it imports) into
// dist/app.js + dist/app.css, and copies src/index.html with the files it links to
// as they are (the icon, the web app manifest). Run by
// scripts/build-dashboard.sh; `node build.mjs` works too.
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
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

// Brotli and gzip copies beside each file a page loads, which the gateway sends to
// browsers that accept them (a third of the bytes on a slow phone network).
for (const file of readdirSync(`${here}dist`, { recursive: true })) {
  if (!/\.(js|css|html|svg|webmanifest)$/.test(file)) continue;
  const bytes = readFileSync(`${here}dist/${file}`);
  writeFileSync(`${here}dist/${file}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  writeFileSync(`${here}dist/${file}.gz`, gzipSync(bytes, { level: 9 }));
}
