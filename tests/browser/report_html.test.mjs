// report.html in a real browser: Debian's chromium, headless, driven by puppeteer-core (both
// installed by the repository's scripts: install-deps.sh and `make web`). The demo producer is
// traced twice (the 1 MiB / 8 pool and the 4 MiB / 32 one), `allocprof report` writes the page,
// and the tests check what a reader would: no console errors and no network request, the flame
// graph names the program's functions, a click zooms, a search highlights, selecting a time range
// on the timeline changes the totals, and a screenshot is not blank.
//
// Run: node --test tests/browser/   (BUILD=build by default; CHROMIUM=/usr/bin/chromium)
// No sleeps: every wait is for a condition in the page (waitForFunction) or an event.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const build = path.resolve(root, process.env.BUILD || "build");
const require = createRequire(path.join(root, "reports/web/package.json"));
const puppeteer = require("puppeteer-core");

const work = fs.mkdtempSync(path.join(os.tmpdir(), "allocprof-browser-"));
const shots = path.join(build, "browser-test");
let browser;
let page;
const problems = []; // console errors, page errors, requests that left the file

function run(args) {
  return execFileSync(args[0], args.slice(1), { cwd: root, stdio: ["ignore", "pipe", "pipe"] }).toString();
}

before(async () => {
  const ap = path.join(build, "allocprof");
  const producer = path.join(build, "examples/producer");
  for (const [name, max, slots] of [["regression", "1MiB", "8"], ["fixed", "4MiB", "32"]]) {
    run([ap, "run", "-q", "--force", "-o", path.join(work, name + ".trace"), "--", producer, "--pool-max", max, "--pool-slots", slots]);
  }
  run([ap, "report", path.join(work, "regression.trace"), "--baseline", path.join(work, "fixed.trace"), "-o", path.join(work, "report")]);
  fs.mkdirSync(shots, { recursive: true });
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    userDataDir: fs.mkdtempSync(path.join(os.tmpdir(), "allocprof-chromium-")),
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1000 });
  page.on("console", (m) => {
    if (m.type() === "error") problems.push("console: " + m.text());
  });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  await page.setRequestInterception(true);
  page.on("request", (r) => {
    if (!r.url().startsWith("file://") && !r.url().startsWith("data:")) {
      problems.push("network request: " + r.url().slice(0, 200));
      r.abort();
    } else {
      r.continue();
    }
  });
  await page.goto("file://" + path.join(work, "report", "report.html"));
  await page.waitForSelector('body[data-ready="1"]');
  await settled();
});

after(async () => {
  if (browser) await browser.close();
  fs.rmSync(work, { recursive: true, force: true });
});

// The flame graph has finished its transition: the top frame spans the whole width.
async function settled() {
  await page.waitForFunction(() => {
    const svg = document.querySelector("#flame svg");
    const top = svg && svg.querySelector("g rect");
    return top && Math.abs(parseFloat(top.getAttribute("width")) - parseFloat(svg.getAttribute("width"))) < 0.5;
  });
}

// Width of the first frame whose label is `name` (null when it is not drawn).
function frameWidth(name) {
  return page.evaluate((n) => {
    for (const g of document.querySelectorAll("#flame svg g")) {
      if (g.textContent.trim() === n && !g.classList.contains("fade")) return parseFloat(g.querySelector("rect").getAttribute("width"));
    }
    return null;
  }, name);
}

test("the page opens without console errors or network requests", async () => {
  assert.deepEqual(problems, []);
  assert.match(await page.$eval("#title", (e) => e.textContent), /producer/);
  assert.match(await page.$eval("#verdict", (e) => e.textContent), /FAIL/);
});

test("the flame graph names the program's functions", async () => {
  const labels = await page.$$eval("#flame svg g", (gs) => gs.map((g) => g.textContent.trim()));
  for (const name of ["main", "RunWriter", "RunPump", "producer::BasicArrayPool::Rent"]) {
    assert.ok(labels.includes(name), `${name} not among the frames: ${labels.slice(0, 40).join(", ")}`);
  }
});

test("a click on a frame zooms into it", async () => {
  const svgWidth = await page.$eval("#flame svg", (s) => parseFloat(s.getAttribute("width")));
  const before = await frameWidth("RunPump");
  assert.ok(before > 0 && before < svgWidth * 0.9, `RunPump is ${before} of ${svgWidth} px before the click`);
  const frame = await page.evaluateHandle(() =>
    [...document.querySelectorAll("#flame svg g")].find((g) => g.textContent.trim() === "RunPump").querySelector("rect"));
  await frame.click();
  await page.waitForFunction((w) => {
    const g = [...document.querySelectorAll("#flame svg g")].find((e) => e.textContent.trim() === "RunPump");
    return g && Math.abs(parseFloat(g.querySelector("rect").getAttribute("width")) - w) < 0.5;
  }, {}, svgWidth);
  await page.screenshot({ path: path.join(shots, "zoomed.png") });
  await page.click("#reset-zoom");
  await page.waitForFunction((w) => {
    const g = [...document.querySelectorAll("#flame svg g")].find((e) => e.textContent.trim() === "RunPump");
    return g && parseFloat(g.querySelector("rect").getAttribute("width")) < w * 0.9;
  }, {}, svgWidth);
  await settled();
});

test("a search highlights the matching frames", async () => {
  await page.type("#search", "RunWriter");
  await page.waitForFunction(() => /search “RunWriter”: [1-9]/.test(document.getElementById("search-result").textContent));
  // Every RunWriter frame takes the highlight colour, and only matching frames do.
  await page.waitForFunction(() => {
    const fills = [...document.querySelectorAll("#flame svg g")].map((g) => [g.textContent.trim(), getComputedStyle(g.querySelector("rect")).fill]);
    const mine = fills.filter(([n]) => n === "RunWriter");
    return mine.length > 0 && mine.every(([, f]) => f === "rgb(204, 121, 167)");
  });
  const others = await page.$$eval("#flame svg g", (gs) => gs.filter((g) => g.textContent.trim() === "RunPump")
    .map((g) => getComputedStyle(g.querySelector("rect")).fill));
  assert.ok(others.length > 0 && others.every((f) => f !== "rgb(204, 121, 167)"));
  await page.screenshot({ path: path.join(shots, "search.png") });
  await page.$eval("#search", (e) => {
    e.value = "";
    e.dispatchEvent(new Event("input"));
  });
  await page.waitForFunction(() => document.getElementById("search-result").textContent === "");
});

test("selecting a time range redraws the flame graph with that range's totals", async () => {
  const whole = await page.$eval("#total", (e) => e.textContent);
  const calls = (t) => Number(/in ([\d,]+) allocation calls/.exec(t)[1].replace(/,/g, ""));
  const box = await (await page.$("#timeline .brush .overlay")).boundingBox();
  // The second half of the run: the start-up allocations (pool fills, buffers) are not in it.
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => document.getElementById("range").textContent !== "whole run");
  const part = await page.$eval("#total", (e) => e.textContent);
  assert.notEqual(part, whole);
  assert.ok(calls(part) < calls(whole), `${part} against ${whole}`);
  await settled();
  await page.screenshot({ path: path.join(shots, "range.png") });
  await page.click("#clear-range");
  await page.waitForFunction(() => document.getElementById("range").textContent === "whole run");
  assert.equal(await page.$eval("#total", (e) => e.textContent), whole);
});

test("every measure draws: calls, live at the peak, leaked, the change against the baseline", async () => {
  const options = await page.$$eval("#measure option", (os) => os.map((o) => o.value));
  assert.deepEqual(options, ["bytes", "calls", "peak_bytes", "leaked_bytes", "diff"]);
  const seen = new Set();
  for (const m of options) {
    await page.select("#measure", m);
    await page.waitForFunction((want) => document.getElementById("measure").value === want, {}, m);
    await settled();
    seen.add(await page.$eval("#total", (e) => e.textContent));
  }
  assert.ok(seen.size >= 4, [...seen].join(" | "));
  // The differential view colours the regression's request path (new against the fixed pool's
  // pooled requests) in vermillion shades.
  await page.select("#measure", "diff");
  await settled();
  const fill = await (await page.waitForFunction(() => {
    const g = [...document.querySelectorAll("#flame svg g")].find((e) => e.textContent.trim() === "RunWriter");
    return g && getComputedStyle(g.querySelector("rect")).fill;
  })).jsonValue();
  const [r, , b] = fill.match(/\d+/g).map(Number);
  assert.ok(r > b, `RunWriter is ${fill} in the differential view`);
  await page.screenshot({ path: path.join(shots, "diff.png") });
  await page.select("#measure", "bytes");
  await settled();
  assert.deepEqual(problems, []);
});

test("a screenshot of the page is not blank", async () => {
  await settled();
  const png = await page.screenshot({ path: path.join(shots, "report.png"), fullPage: true });
  // Decoded by the browser itself: the share of non-white pixels and the number of colours.
  const stats = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = "data:image/png;base64," + b64;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    const colours = new Set();
    for (let i = 0; i < px.length; i += 16) {
      if (px[i] < 240 || px[i + 1] < 240 || px[i + 2] < 240) ink++;
      colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
    }
    return { ink: ink / (px.length / 16), colours: colours.size, width: img.width, height: img.height };
  }, Buffer.from(png).toString("base64"));
  assert.equal(stats.width, 1280);
  assert.ok(stats.ink > 0.05, `only ${(100 * stats.ink).toFixed(1)}% of the page is not white`);
  assert.ok(stats.colours > 20, `only ${stats.colours} colours`);
  assert.deepEqual(problems, []);
});
