// report.html's page script: draws the flame graph (d3-flame-graph), the live-heap timeline with
// the simulated collections and marks (d3), the pools and the comparison from the JSON inlined in
// #report-data (reports/allocprof_reports/html.py writes it; the "flame" member is the analyzer's
// flame section, docs/json-schema.md). Selecting a time range on the timeline redraws the flame
// graph from the per-window cells. Sets document.body.dataset.ready = "1" once drawn.
(function () {
  "use strict";
  // Milliseconds spent in each step (bench/report_html.mjs reads them).
  const timings = (window.allocprofTimings = {});
  let mark = performance.now();
  function timed(step) {
    const now = performance.now();
    timings[step] = (timings[step] || 0) + (now - mark);
    mark = now;
  }
  const data = JSON.parse(document.getElementById("report-data").textContent);
  timed("parse");

  // ---- formatting ------------------------------------------------------------------------------
  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    let v = Math.abs(n);
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return (n < 0 ? "-" : "") + (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i];
  }
  function count(n) {
    return Math.round(n).toLocaleString("en-US");
  }
  function percent(share) {
    return share > 0 && share < 0.001 ? "<0.1%" : (100 * share).toFixed(1) + "%";
  }
  function seconds(t) {
    if (t >= 1) return t.toFixed(2) + " s";
    if (t >= 1e-3) return (t * 1e3).toFixed(1) + " ms";
    return (t * 1e6).toFixed(0) + " µs";
  }
  function text(id, value) {
    document.getElementById(id).textContent = value;
  }

  // ---- header ----------------------------------------------------------------------------------
  text("title", "allocprof report: " + data.title);
  text("headline", data.headline);
  text("generator", data.generator);
  if (data.verdict) {
    const v = document.getElementById("verdict");
    v.textContent = data.verdict.text;
    v.className = data.verdict.passed ? "pass" : "fail";
    v.hidden = false;
  }

  // ---- flame graph -----------------------------------------------------------------------------
  const F = data.flame;
  const flameEl = document.getElementById("flame");
  const tipEl = document.getElementById("tip");
  const measureEl = document.getElementById("measure");
  let chart = null;
  let setRange = function () {};

  function shortName(name) {
    if (name.startsWith("[") || name.includes("+0x") || name.startsWith("0x")) return name;
    // Drop template arguments and parameter lists, keep 'operator<' and the like readable.
    let out = "";
    let depth = 0;
    for (let i = 0; i < name.length; i++) {
      const ch = name[i];
      if (name.startsWith("operator", i)) {
        const m = /^operator\s*(\(\)|\[\]|<=>|<<=|>>=|<<|>>|<=|>=|->|<|>|new\[\]|delete\[\]|new|delete|[-+*/%^&|~!=,]+)/.exec(name.slice(i));
        if (m && depth === 0) {
          out += m[0];
          i += m[0].length - 1;
          continue;
        }
      }
      if (ch === "<" || ch === "(") depth++;
      else if ((ch === ">" || ch === ")") && depth > 0) depth--;
      else if (depth === 0) out += ch;
    }
    out = out.replace(/\s+(const|volatile|&&|&|noexcept)\s*$/, "").trim();
    if (out.includes(" ")) out = out.slice(out.lastIndexOf(" ") + 1);
    return out || name;
  }

  if (!F || !F.nodes || !F.nodes.parent || F.nodes.parent.length === 0) {
    flameEl.textContent = "No allocation stacks in this analysis.";
  } else {
    const N = F.nodes.parent.length;
    const parent = F.nodes.parent;
    const sites = F.sites;
    const root = { n: "all", f: "all", w: "", v: 0, i: -1 };
    const nodes = new Array(N);
    const shortNames = new Map(); // per site
    for (let i = 0; i < N; i++) {
      const s = F.nodes.site[i];
      let short = shortNames.get(s);
      if (short === undefined) {
        short = shortName(sites.name[s]);
        shortNames.set(s, short);
      }
      const node = { n: short, s: s, v: 0, i: i };
      nodes[i] = node;
      const p = parent[i] >= 0 ? nodes[parent[i]] : root;
      (p.children || (p.children = [])).push(node);
    }
    // Children by name, once (the chart is told not to sort on every redraw).
    const byName = (a, b) => (a.n < b.n ? -1 : a.n > b.n ? 1 : a.i - b.i);
    root.children && root.children.sort(byName);
    for (let i = 0; i < N; i++) if (nodes[i].children && nodes[i].children.length > 1) nodes[i].children.sort(byName);
    // Full name, file:line and module of a node, from its call site.
    const fullName = (d) => (d.s === undefined ? d.n : sites.name[d.s]);
    const whereOf = (d) => {
      if (d.s === undefined) return "";
      const file = sites.file[d.s] || "";
      return file ? file.split("/").slice(-2).join("/") + (sites.line[d.s] ? ":" + sites.line[d.s] : "") : "";
    };
    const moduleOf = (d) => (d.s === undefined ? "" : sites.module[d.s] || "");
    timed("tree");
    // Self values of the current view, and totals (node plus everything under it) of calls and bytes.
    let selfValues = null;
    let totalCalls = new Float64Array(N);
    let totalBytes = new Float64Array(N);
    let totalShown = new Float64Array(N);
    let rangeText = "whole run";
    let rangeWindows = null; // [w0, w1] inclusive, or null for the whole run
    const baseline = data.baseline_bytes;

    function totals(self) {
      const t = Float64Array.from(self);
      for (let i = N - 1; i >= 0; i--) if (parent[i] >= 0) t[parent[i]] += t[i];
      return t;
    }
    function sum(a) {
      let s = 0;
      for (let i = 0; i < a.length; i++) s += a[i];
      return s;
    }
    function rangeSelf() {
      const calls = new Float64Array(N);
      const b = new Float64Array(N);
      const bw = F.by_window;
      const [w0, w1] = rangeWindows;
      for (let k = 0; k < bw.node.length; k++) {
        const w = bw.window[k];
        if (w >= w0 && w <= w1) {
          calls[bw.node[k]] += bw.calls[k];
          b[bw.node[k]] += bw.bytes[k];
        }
      }
      return { calls: calls, bytes: b };
    }
    const measures = [
      ["bytes", "bytes allocated"],
      ["calls", "allocation calls"],
      ["peak_bytes", "live at the peak"],
      ["leaked_bytes", "leaked (live at the end)"],
    ];
    if (baseline) measures.push(["diff", "bytes: change against the baseline"]);
    for (const [key, label] of measures) {
      // A sampled report's peak_bytes is null (not available when sampling): no such measure.
      if (key !== "diff" && !Array.isArray(F.nodes[key])) continue;
      const o = document.createElement("option");
      o.value = key;
      o.textContent = label;
      measureEl.appendChild(o);
    }
    function measure() {
      return measureEl.value;
    }
    function isBytes() {
      return measure() !== "calls";
    }
    function recompute() {
      const m = measure();
      let calls = F.nodes.calls;
      let b = F.nodes.bytes;
      if (rangeWindows && (m === "bytes" || m === "calls" || m === "diff")) {
        const r = rangeSelf();
        calls = r.calls;
        b = r.bytes;
      }
      totalCalls = totals(calls);
      totalBytes = totals(b);
      selfValues = m === "calls" ? calls : m === "bytes" || m === "diff" ? b : F.nodes[m];
      totalShown = totals(selfValues);
      for (let i = 0; i < N; i++) nodes[i].v = selfValues[i];
      const whole = sum(selfValues);
      const inRange = rangeWindows && (m === "bytes" || m === "calls" || m === "diff");
      text("range", inRange ? rangeText : rangeWindows ? "whole run (" + m.replace("_", " ") + " is a whole-run figure)" : "whole run");
      text("total", m === "calls" ? count(whole) + " allocation calls (" + bytes(sum(b)) + ")"
        : m === "bytes" || m === "diff" ? bytes(whole) + " in " + count(sum(calls)) + " allocation calls"
        : bytes(whole) + " " + (m === "peak_bytes" ? "live at the peak" : "leaked"));
    }
    function colour(d, original) {
      if (d.data.i === undefined || d.data.i < 0) return "#e0e0e0";
      if (d.highlight) return "#CC79A7";
      if (measure() === "diff") {
        const i = d.data.i;
        const delta = totalShown[i] - baseline[i];
        if (baseline[i] === 0 && totalShown[i] > 0) return "#D55E00";
        const scale = Math.max(1, maxDelta);
        const t = Math.min(1, Math.abs(delta) / scale);
        if (t < 0.02) return "#e6e6e6";
        return d3.interpolateRgb("#ffffff", delta > 0 ? "#D55E00" : "#0072B2")(0.25 + 0.75 * t);
      }
      const name = fullName(d.data);
      if (name.startsWith("[")) return "#f2f2f2";
      if (/^(std::|__gnu_cxx::|__libc_|_dl_|_start$|__cxa_|start_thread$|clone3?$|__clone3?$|operator new|operator delete|malloc$|free$)/.test(name)
          || /(libc\.so|libstdc\+\+\.so|ld-linux|liballocprof\.so)/.test(moduleOf(d.data))) return "#dddddd";
      return original;
    }
    let maxDelta = 1;
    function updateDiffScale() {
      maxDelta = 1;
      if (!baseline) return;
      for (let i = 0; i < N; i++) maxDelta = Math.max(maxDelta, Math.abs(totalShown[i] - baseline[i]));
    }
    function showTip(event, d) {
      const i = d.data.i;
      const rootValue = sum(selfValues);
      const share = rootValue > 0 ? d.value / rootValue : 0;
      const lines = [];
      const name = document.createElement("div");
      name.className = "name";
      name.textContent = fullName(d.data);
      tipEl.replaceChildren(name);
      if (i >= 0) {
        const where = whereOf(d.data);
        const module = moduleOf(d.data);
        if (where || module) lines.push(where + (module ? "  (" + module.split("/").pop() + ")" : ""));
        lines.push(bytes(totalBytes[i]) + " in " + count(totalCalls[i]) + " calls");
        lines.push(percent(share) + " of " + measureEl.options[measureEl.selectedIndex].text + (rangeWindows ? " in " + rangeText : ""));
        if (measure() === "peak_bytes" || measure() === "leaked_bytes") lines.push(bytes(d.value) + " " + measureEl.options[measureEl.selectedIndex].text);
        if (baseline) lines.push("baseline: " + bytes(baseline[i]) + " (" + (totalBytes[i] >= baseline[i] ? "+" : "") + bytes(totalBytes[i] - baseline[i]) + ")");
      } else {
        lines.push((isBytes() ? bytes(d.value) : count(d.value)) + " in all");
      }
      for (const l of lines) {
        const div = document.createElement("div");
        div.textContent = l;
        tipEl.appendChild(div);
      }
      tipEl.hidden = false;
      const x = Math.min(event.clientX + 14, window.innerWidth - tipEl.offsetWidth - 8);
      const y = event.clientY + 16 + tipEl.offsetHeight > window.innerHeight ? event.clientY - tipEl.offsetHeight - 8 : event.clientY + 16;
      tipEl.style.left = Math.max(0, x) + "px";
      tipEl.style.top = Math.max(0, y) + "px";
    }
    const tip = function () {};
    tip.show = showTip;
    tip.hide = function () {
      tipEl.hidden = true;
    };

    recompute();
    updateDiffScale();
    chart = flamegraph.default()
      .width(Math.max(600, flameEl.clientWidth))
      .cellHeight(18)
      .inverted(true)
      .selfValue(true)
      .minFrameSize(1)
      .transitionDuration(250)
      .sort(false)
      .tooltip(tip)
      .setColorMapper(colour)
      .setSearchMatch(function (d, term) {
        return !!term && fullName(d.data).toLowerCase().includes(term.toLowerCase());
      })
      .setSearchHandler(function (results, found, whole) {
        const term = document.getElementById("search").value;
        text("search-result", term ? "search “" + term + "”: " + results.length + " frames, " + (isBytes() ? bytes(found) : count(found)) + " (" + percent(whole > 0 ? found / whole : 0) + ")" : "");
      })
      .setDetailsHandler(function () {});
    timed("values");
    d3.select(flameEl).datum(root).call(chart);
    timed("flame");

    function redraw() {
      mark = performance.now();
      recompute();
      updateDiffScale();
      timed("redraw_values");
      chart.update();
      timed("redraw_flame");
      const term = document.getElementById("search").value;
      if (term) chart.search(term);
    }
    measureEl.addEventListener("change", redraw);
    document.getElementById("search").addEventListener("input", function () {
      const term = this.value.trim();
      if (term) chart.search(term);
      else {
        chart.clear();
        text("search-result", "");
      }
    });
    document.getElementById("reset-zoom").addEventListener("click", function () {
      chart.resetZoom();
    });
    setRange = function (windows, label) {
      rangeWindows = windows;
      rangeText = label || "whole run";
      document.getElementById("clear-range").hidden = !windows;
      redraw();
    };
  }

  // ---- timeline --------------------------------------------------------------------------------
  const T = data.timeline;
  const timelineEl = document.getElementById("timeline");
  const C = data.collections;
  {
    const saw = data.sawtooth || {};
    let finding = "Live heap peaks at " + bytes(data.totals.peak_bytes) + " at " + seconds(data.totals.peak_time_s);
    finding += saw.found ? "; sawtooth every " + seconds(saw.period_s) + " (" + bytes(saw.amplitude_bytes) + " deep)" : "; no periodic pattern";
    if (C && C.counts[0] > 0) {
      finding += "; " + count(C.counts[0]) + " simulated collections (" + count(C.counts[2]) + " Gen2)";
      if (C.sawtooth && C.sawtooth.found) finding += ", the simulated GC heap saw-tooths every " + seconds(C.sawtooth.period_s) + " (" + bytes(C.sawtooth.amplitude_bytes) + ")";
    }
    text("timeline-finding", finding + ".");
  }
  if (T.start.length > 0) {
    const width = Math.max(600, timelineEl.clientWidth);
    const lanes = C && C.t.length ? 3 : 0;
    const margin = { top: 10, right: 16, bottom: 34, left: 72 };
    const heapH = 200;
    const laneH = 14;
    const height = margin.top + heapH + (lanes ? 8 + lanes * laneH : 0) + margin.bottom;
    const end = Math.max(T.end[T.end.length - 1], lanes ? C.t[C.t.length - 1] : 0);
    const x = d3.scaleLinear().domain([0, end]).range([margin.left, width - margin.right]);
    let top = d3.max(T.live_max) || 0;
    if (C) top = Math.max(top, d3.max(C.before) || 0);
    top = Math.max(top, data.totals.peak_bytes || 0, 1);
    const y = d3.scaleLinear().domain([0, top * 1.05]).range([margin.top + heapH, margin.top]).nice();
    const svg = d3.select(timelineEl).append("svg").attr("width", width).attr("height", height).attr("role", "img")
      .attr("aria-label", document.getElementById("timeline-finding").textContent);
    const steps = T.start.map((s, i) => [s, T.live_min[i], T.live_max[i]]);
    steps.push([T.end[T.end.length - 1], T.live_min[T.live_min.length - 1], T.live_max[T.live_max.length - 1]]);
    svg.append("path").attr("class", "live-band").attr("d", d3.area().curve(d3.curveStepAfter)
      .x((d) => x(d[0])).y0((d) => y(d[1])).y1((d) => y(d[2]))(steps));
    svg.append("path").attr("class", "live-line").attr("d", d3.line().x((d) => x(d[0])).y((d) => y(d[1]))(
      [[0, T.live_end.length ? T.live_min[0] : 0]].concat(T.end.map((e, i) => [e, T.live_end[i]]))));
    if (C && C.t.length) {
      // The simulated GC heap: grows until a collection drops it (heap_before -> heap_after).
      let d = "";
      for (let i = 0; i < C.t.length; i++) {
        d += (i ? "L" : "M") + x(C.t[i]).toFixed(1) + "," + y(C.before[i]).toFixed(1) + "V" + y(C.after[i]).toFixed(1);
      }
      svg.append("path").attr("class", "gc-heap").attr("d", d);
      const colours = ["#56B4E9", "#E69F00", "#D55E00"];
      for (let g = 0; g < 3; g++) {
        const y0 = margin.top + heapH + 8 + g * laneH;
        let p = "";
        for (let i = 0; i < C.t.length; i++) if (C.g[i] === g) p += "M" + x(C.t[i]).toFixed(1) + "," + (y0 + 2) + "v" + (laneH - 4);
        svg.append("path").attr("d", p).attr("stroke", colours[g]).attr("stroke-width", 1);
        svg.append("text").attr("class", "lane-label").attr("x", margin.left - 6).attr("y", y0 + laneH - 3).attr("text-anchor", "end").text("Gen" + g);
      }
    }
    for (const m of data.marks) {
      const g = svg.append("g").attr("class", "mark");
      g.append("line").attr("x1", x(m.t)).attr("x2", x(m.t)).attr("y1", margin.top).attr("y2", margin.top + heapH);
      g.append("text").attr("x", x(m.t) + 3).attr("y", margin.top + 10).text(m.name);
    }
    svg.append("g").attr("transform", "translate(0," + (height - margin.bottom) + ")")
      .call(d3.axisBottom(x).ticks(Math.max(2, Math.floor(width / 110))).tickFormat((t) => seconds(t)));
    svg.append("g").attr("transform", "translate(" + margin.left + ",0)").call(d3.axisLeft(y).ticks(5).tickFormat((b) => bytes(b)));
    svg.append("text").attr("x", width - margin.right).attr("y", margin.top + 12).attr("text-anchor", "end").attr("font-size", 11)
      .text("blue: live heap (band: min–max per window)" + (C && C.t.length ? "; vermillion: simulated GC heap" : ""));
    // Selecting a range of windows redraws the flame graph for the allocations in it.
    const brush = d3.brushX().extent([[margin.left, margin.top], [width - margin.right, margin.top + heapH]])
      .on("end", function (event) {
        if (!event.selection) {
          setRange(null);
          return;
        }
        const t0 = x.invert(event.selection[0]);
        const t1 = x.invert(event.selection[1]);
        let w0 = -1;
        let w1 = -1;
        for (let i = 0; i < T.start.length; i++) {
          if (T.end[i] > t0 && T.start[i] < t1) {
            if (w0 < 0) w0 = i;
            w1 = i;
          }
        }
        if (w0 < 0) {
          setRange([0, -1], seconds(t0) + "–" + seconds(t1));
          return;
        }
        setRange([w0, w1], seconds(T.start[w0]) + "–" + seconds(T.end[w1]));
      });
    const brushG = svg.append("g").attr("class", "brush").call(brush);
    document.getElementById("clear-range").addEventListener("click", function () {
      brushG.call(brush.move, null);
    });
  } else {
    timelineEl.textContent = "No allocations recorded.";
  }

  // ---- pools and comparison ------------------------------------------------------------------------
  if (data.pools.length) {
    document.getElementById("pools-section").hidden = false;
    const host = document.getElementById("pools");
    for (const p of data.pools) {
      const h = document.createElement("h3");
      h.textContent = p.name + ": " + p.summary;
      host.appendChild(h);
      if (p.advice) {
        const a = document.createElement("p");
        a.textContent = p.advice;
        host.appendChild(a);
      }
      const table = document.createElement("table");
      const head = table.createTHead().insertRow();
      for (const c of ["bucket", "rents", "hits", "hit rate", "exhausted", "fill", "oversize", "dropped"]) {
        const th = document.createElement("th");
        th.textContent = c;
        head.appendChild(th);
      }
      const body = table.createTBody();
      for (const r of p.rows) {
        const tr = body.insertRow();
        for (const c of r) tr.insertCell().textContent = c;
      }
      host.appendChild(table);
    }
  }
  if (data.diff.length) {
    document.getElementById("diff-section").hidden = false;
    const body = document.querySelector("#diff tbody");
    for (const r of data.diff) {
      const tr = body.insertRow();
      for (const c of r) tr.insertCell().textContent = c;
    }
  }
  timed("rest");
  document.body.dataset.ready = "1";
})();
