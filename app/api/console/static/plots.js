// Small inline-SVG plots for the console: a line chart and a stacked bar chart over time.
// No library: the console must work offline and without a build step.
"use strict";

const Plots = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 480, H = 180, PAD = { l: 40, r: 8, t: 8, b: 20 };

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * magnitude >= value) return step * magnitude;
    }
    return 10 * magnitude;
  }

  function count(v) {
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }

  function clock(ms) {
    const d = new Date(ms);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  // Axes and grid for x in [x0, x1] (ms) and y in [0, yMax]; returns the scale functions.
  function frame(svg, x0, x1, yMax, format) {
    const sx = (x) => PAD.l + (x1 === x0 ? 0 : (x - x0) / (x1 - x0)) * (W - PAD.l - PAD.r);
    const sy = (y) => H - PAD.b - (y / yMax) * (H - PAD.t - PAD.b);
    for (const f of [0, 0.5, 1]) {
      const y = sy(yMax * f);
      svg.appendChild(el("line", { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: "axis" }));
      svg.appendChild(el("text", { x: PAD.l - 4, y: y + 3, "text-anchor": "end" }, format(yMax * f)));
    }
    for (const f of [0, 0.5, 1]) {
      const x = x0 + (x1 - x0) * f;
      svg.appendChild(el("text", { x: sx(x), y: H - 5, "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle" }, clock(x)));
    }
    return { sx, sy };
  }

  function legend(series) {
    const box = document.createElement("div");
    box.className = "legend";
    for (const s of series) {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = s.color;
      item.append(swatch, s.name);
      box.appendChild(item);
    }
    return box;
  }

  // series: [{name, color, points: [[ms, value|null], ...]}]
  function line(container, series, opts) {
    const format = (opts && opts.format) || count;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img" });
    const xs = series.flatMap((s) => s.points.map((p) => p[0]));
    const ys = series.flatMap((s) => s.points.map((p) => p[1]).filter((v) => v !== null));
    const x0 = Math.min(...xs), x1 = Math.max(...xs);
    const { sx, sy } = frame(svg, x0, x1, niceMax(Math.max(0, ...ys)), format);
    for (const s of series) {
      let d = "";
      let pen = false;
      for (const [x, y] of s.points) {
        if (y === null) { pen = false; continue; }
        d += `${pen ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
        pen = true;
      }
      if (d) svg.appendChild(el("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
      // A point with no neighbour draws no line: mark it.
      s.points.forEach(([x, y], i) => {
        const lonely = y !== null && (i === 0 || s.points[i - 1][1] === null) && (i === s.points.length - 1 || s.points[i + 1][1] === null);
        if (lonely) svg.appendChild(el("circle", { cx: sx(x), cy: sy(y), r: 3, fill: s.color }));
      });
    }
    container.replaceChildren(svg, legend(series));
  }

  // buckets: [{t: ms, values: {name: n}}]; series: [{name, key, color}], stacked bottom-up.
  function bars(container, buckets, series) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img" });
    const totals = buckets.map((b) => series.reduce((sum, s) => sum + (b.values[s.key] || 0), 0));
    const step = buckets.length > 1 ? buckets[1].t - buckets[0].t : 60000;
    const x0 = buckets.length ? buckets[0].t : Date.now(), x1 = buckets.length ? buckets[buckets.length - 1].t + step : x0 + step;
    const { sx, sy } = frame(svg, x0, x1, niceMax(Math.max(0, ...totals)), count);
    const width = Math.max(1, sx(x0 + step) - sx(x0) - 1);
    for (const b of buckets) {
      let base = 0;
      for (const s of series) {
        const v = b.values[s.key] || 0;
        if (!v) continue;
        svg.appendChild(el("rect", { x: sx(b.t), y: sy(base + v), width, height: sy(base) - sy(base + v), fill: s.color }));
        base += v;
      }
    }
    container.replaceChildren(svg, legend(series));
  }

  return { line, bars };
})();
