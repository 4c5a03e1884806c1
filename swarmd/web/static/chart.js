// A small SVG line chart, hand-written so the page needs no chart library.
// SwarmChart.line(container, {series, xLabel, height, integerX, empty, data}) draws
// every series ([{label, color, width, points: [[x, y], ...]}]) on shared axes
// with "nice" ticks, a legend below, and a tooltip (<title>) on each point.
// Points with y === null (NaN on the server) are gaps, not zeros. "data" becomes
// data-* attributes of the <svg> (what tests and scripts read back).
"use strict";

(function () {
  const NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  // Round numbers for axis ticks: 1, 2 or 5 times a power of ten.
  // A range within the values' own rounding error (0.1 + 0.2 against 0.3) is drawn as a
  // flat line: stepping through it would never advance.
  function niceTicks(lo, hi, count, integer) {
    const scale = Math.max(Math.abs(lo), Math.abs(hi));
    if (!(hi - lo > scale * 1e-9)) { const pad = scale > 0 ? scale * 0.1 : 1; lo -= pad; hi += pad; }
    const raw = (hi - lo) / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
    if (integer) step = Math.max(1, Math.round(step));
    const start = Math.floor(lo / step) * step;
    const ticks = [];
    for (let v = start; v <= hi + step * 1e-9 && ticks.length <= 2 * count + 2; v += step) {
      ticks.push(+v.toPrecision(12));
    }
    if (ticks[ticks.length - 1] < hi) ticks.push(+(ticks[ticks.length - 1] + step).toPrecision(12));
    return ticks;
  }

  function fmt(v) {
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
    if (a >= 100) return v.toFixed(0);
    return (+v.toPrecision(3)).toString();
  }

  function line(container, opts) {
    const series = (opts.series || []).filter((s) => s.points && s.points.length);
    // Drawn at the container's real width so text keeps its size; redrawn on resize.
    const W = Math.max(240, Math.round(container.clientWidth || 640));
    const H = opts.height || 240, M = { l: 48, r: 12, t: 10, b: 30 };
    drawn.set(container, opts);
    container.textContent = "";
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.title || "chart" }, container);
    const valid = [];
    for (const s of series) for (const p of s.points) if (p[1] !== null && Number.isFinite(p[1])) valid.push(p);
    for (const [k, v] of Object.entries(opts.data || {})) svg.dataset[k] = String(v);
    svg.dataset.series = String(series.length);
    svg.dataset.points = String(valid.length);
    if (!valid.length) {
      el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, svg).textContent =
        opts.empty || "no data yet";
      return svg;
    }
    const xs = valid.map((p) => p[0]), ys = valid.map((p) => p[1]);
    const xt = niceTicks(Math.min(...xs), Math.max(...xs), 6, opts.integerX);
    const yt = niceTicks(Math.min(...ys), Math.max(...ys), 4, false);
    const [x0, x1, y0, y1] = [xt[0], xt[xt.length - 1], yt[0], yt[yt.length - 1]];
    svg.dataset.xMax = String(Math.max(...xs));
    const X = (v) => M.l + ((v - x0) / (x1 - x0 || 1)) * (W - M.l - M.r);
    const Y = (v) => H - M.b - ((v - y0) / (y1 - y0 || 1)) * (H - M.t - M.b);

    for (const t of yt) {
      el("line", { x1: M.l, x2: W - M.r, y1: Y(t), y2: Y(t), class: "grid" }, svg);
      el("text", { x: M.l - 6, y: Y(t) + 3, "text-anchor": "end" }, svg).textContent = fmt(t);
    }
    for (const t of xt) {
      el("text", { x: X(t), y: H - M.b + 14, "text-anchor": "middle" }, svg).textContent = fmt(t);
    }
    el("line", { x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b, class: "axis" }, svg);
    el("line", { x1: M.l, x2: M.l, y1: M.t, y2: H - M.b, class: "axis" }, svg);
    if (opts.xLabel) el("text", { x: W - M.r, y: H - 2, "text-anchor": "end" }, svg).textContent = opts.xLabel;

    const sparse = valid.length / Math.max(1, series.length) <= 60;
    for (const s of series) {
      const g = el("g", { class: "series" }, svg);
      g.dataset.label = s.label;
      // Break the line at gaps so a missing round is not drawn as a slope.
      let run = [];
      const flush = () => {
        if (run.length > 1) {
          el("polyline", {
            points: run.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" "),
            fill: "none", stroke: s.color, "stroke-width": s.width || 1.6,
            "stroke-linejoin": "round", "stroke-linecap": "round",
          }, g);
        }
        run = [];
      };
      for (const p of s.points) {
        if (p[1] === null || !Number.isFinite(p[1])) { flush(); continue; }
        run.push(p);
      }
      flush();
      if (sparse) {
        for (const p of s.points) {
          if (p[1] === null || !Number.isFinite(p[1])) continue;
          const c = el("circle", { cx: X(p[0]), cy: Y(p[1]), r: (s.width || 1.6) + 1, fill: s.color }, g);
          el("title", {}, c).textContent = `${s.label}: ${fmt(p[1])} at ${opts.xLabel || "x"} ${p[0]}`;
        }
      }
    }
    if (opts.legend !== false && series.length > 1) {
      const legend = document.createElement("div");
      legend.className = "legend";
      for (const s of series) {
        const item = document.createElement("span");
        item.style.setProperty("--swatch", s.color);
        item.textContent = s.label;
        legend.appendChild(item);
      }
      container.appendChild(legend);
    }
    return svg;
  }

  const drawn = new Map();
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const [container, opts] of drawn) {
        if (container.isConnected) line(container, opts); else drawn.delete(container);
      }
    }, 150);
  });

  // A stable colour per peer ID, so a peer keeps its colour across reloads.
  function colorFor(key) {
    let h = 2166136261;
    for (let i = 0; i < key.length; i++) { h ^= key.charCodeAt(i); h = Math.imul(h, 16777619); }
    return `hsl(${(h >>> 0) % 360}, 62%, 48%)`;
  }

  window.SwarmChart = { line, colorFor, niceTicks };
})();
