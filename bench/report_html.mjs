// How fast report.html opens and answers, in Debian's headless chromium (puppeteer-core from
// reports/web): the time from navigation to the page's first drawing (body[data-ready]), to the
// flame graph's settled frames, and for a time-range selection (brushing half the timeline) to
// redraw. Prints one "key value" per line.
//
// usage: node bench/report_html.mjs DIR/report.html   (CHROMIUM=/usr/bin/chromium)
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const puppeteer = createRequire(path.join(root, "reports/web/package.json"))("puppeteer-core");
const file = path.resolve(process.argv[2]);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  userDataDir: fs.mkdtempSync(path.join(os.tmpdir(), "allocprof-bench-")),
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  protocolTimeout: 600000,
});
const page = await browser.newPage();
await page.setViewport({ width: 1280, height: 1000 });
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
const settled = () => page.waitForFunction(() => {
  const svg = document.querySelector("#flame svg");
  const top = svg && svg.querySelector("g rect");
  return top && Math.abs(parseFloat(top.getAttribute("width")) - parseFloat(svg.getAttribute("width"))) < 0.5;
}, { timeout: 600000 });
const t0 = Date.now();
await page.goto("file://" + file, { timeout: 600000 });
const loaded = Date.now();
await page.waitForSelector('body[data-ready="1"]', { timeout: 600000 });
const ready = Date.now();
await settled();
const drawn = Date.now();
const frames = await page.$$eval("#flame svg g", (gs) => gs.length);
const box = await (await page.$("#timeline .brush .overlay")).boundingBox();
const before = await page.$eval("#total", (e) => e.textContent);
const r0 = Date.now();
await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
await page.mouse.down();
await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2, { steps: 2 });
await page.mouse.up();
await page.waitForFunction((b) => document.getElementById("total").textContent !== b, { timeout: 600000 }, before);
const r1 = Date.now();
const heap = await page.metrics();
console.log("file_bytes", fs.statSync(file).size);
console.log("load_event_s", ((loaded - t0) / 1000).toFixed(2));
console.log("ready_s", ((ready - t0) / 1000).toFixed(2));
console.log("flame_drawn_s", ((drawn - t0) / 1000).toFixed(2));
console.log("frames_drawn", frames);
console.log("range_redraw_s", ((r1 - r0) / 1000).toFixed(2));
console.log("js_heap_mib", (heap.JSHeapUsedSize / 1048576).toFixed(0));
console.log("page_errors", errors.length);
console.log("timings_ms", JSON.stringify(await page.evaluate(() => window.allocprofTimings), (k, v) => (typeof v === "number" ? Math.round(v) : v)));
await browser.close();
