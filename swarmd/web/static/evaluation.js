// Held-out evaluation panel: greedy pass@1 accuracy and mean reward over rounds (round 0:
// the base model), from /api/evaluations. Self-contained: its own section, fetch and timer.
"use strict";

(function () {
  const REFRESH_MS = 15000;

  function fixed(v) { return typeof v === "number" && isFinite(v) ? v.toFixed(3) : "–"; }

  async function load() {
    const panel = document.getElementById("evaluation-panel");
    if (!panel || !window.SwarmChart) return;
    const chart = document.getElementById("evaluation-chart");
    const note = panel.querySelector(".unavailable");
    let body = null;
    try {
      const r = await fetch("/api/evaluations?limit=500", { cache: "no-store", headers: { Accept: "application/json" } });
      body = await r.json();
      if (!r.ok) throw new Error((body && body.error) || `HTTP ${r.status}`);
    } catch (e) {
      note.hidden = false;
      note.textContent = String(e.message || e);
      SwarmChart.line(chart, { series: [], empty: "not available" });
      return;
    }
    note.hidden = true;
    const evals = (body.evaluations || []).slice().sort((a, b) => a.round - b.round || a.time - b.time);
    SwarmChart.line(chart, {
      series: [
        { label: "accuracy (greedy pass@1)", color: "#059669", width: 2.4, points: evals.map((e) => [e.round, e.accuracy]) },
        { label: "mean reward", color: "#7c3aed", points: evals.map((e) => [e.round, e.mean_reward]) },
      ],
      xLabel: "round", integerX: true, height: 200, empty: "no evaluation yet",
      data: { evaluations: evals.length, lastAccuracy: evals.length ? evals[evals.length - 1].accuracy : "" },
    });
    const first = evals[0], last = evals[evals.length - 1];
    document.getElementById("evaluation-summary").textContent = last
      ? `${last.examples} held-out questions · base ${fixed(first.round === 0 ? first.accuracy : NaN)} → ` +
        `${fixed(last.accuracy)} at round ${last.round}` : "";
  }

  document.addEventListener("DOMContentLoaded", () => { load(); setInterval(load, REFRESH_MS); });
})();
