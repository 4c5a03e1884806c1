"""The experiment's report: per-run figures, per-configuration statistics, CSV, plot, markdown.

Input: the runs' ``result.json`` (per node: its round records and held-out
evaluations). A run's figure is the mean over its nodes; a configuration's
mean and 95% interval are over its seeds; sharing is compared with isolated
seed by seed (swarmd.tools.expstats.paired).
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path
from typing import Any

from swarmd.tools import expstats as st

LEARNED = 0.5  # a node "has learned" from the first round its own reward reaches this


def _mean(xs: list[float]) -> float:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return sum(xs) / len(xs) if xs else math.nan


def _eval_at(evals: list[dict], round_: int) -> dict | None:
    """The evaluation labelled ``round_`` or, failing that, the latest before it."""
    before = [e for e in evals if e.get("round", 0) <= round_]
    return max(before, key=lambda e: (e["round"], e.get("time", 0))) if before else None


def node_rows(result: dict) -> list[dict[str, Any]]:
    rows = []
    for node in result["nodes"]:
        cumulative = 0.0
        for k, h in enumerate(node["rounds"]):
            cumulative += h["own_reward"]
            train = h.get("train") or {}
            stale = h.get("staleness") or []
            rows.append({
                "config": result["config"], "seed": result["seed"], "node": node["node"], "round_index": k,
                "round": h["round"], "reward": round(h["own_reward"], 6), "cumulative": round(cumulative, 6),
                "local_groups": h.get("local_groups", 0), "external_groups": h.get("external_groups", 0),
                "signal_groups": h.get("signal_groups", 0), "groups_used": train.get("groups_used", 0),
                "stepped": int(bool(train.get("stepped"))),
                "staleness": round(sum(stale) / len(stale), 3) if stale else "",
            })
    return rows


def run_summary(result: dict, rounds: int) -> dict[str, Any]:
    cum, base, final, final_reward, onset = [], [], [], [], []
    for node in result["nodes"]:
        played = node["rounds"][:rounds]
        cum.append(sum(h["own_reward"] for h in played))
        onset.append(next((k for k, h in enumerate(played) if h["own_reward"] >= LEARNED), len(played)))
        b = _eval_at(node["evaluations"], 0)
        f = _eval_at(node["evaluations"], rounds)
        base.append(b["accuracy"] if b and b["round"] == 0 else math.nan)
        final.append(f["accuracy"] if f and f["round"] > 0 else math.nan)
        final_reward.append(f["mean_reward"] if f and f["round"] > 0 else math.nan)
    steps = [h for node in result["nodes"] for h in node["rounds"][:rounds]]
    stale = [s for h in steps for s in (h.get("staleness") or [])]
    ext = [(h.get("train") or {}) for h in steps if (h.get("train") or {}).get("external_rows")]
    rows = sum(t["external_rows"] for t in ext)
    return {
        "config": result["config"], "seed": result["seed"],
        "cum_reward": _mean(cum), "base_accuracy": _mean(base), "final_accuracy": _mean(final),
        "final_heldout_reward": _mean(final_reward), "onset_round": _mean(onset),
        "stepped_fraction": _mean([float(bool((h.get("train") or {}).get("stepped"))) for h in steps]),
        "groups_used": _mean([(h.get("train") or {}).get("groups_used", 0) for h in steps]),
        "external_groups": _mean([h.get("external_groups", 0) for h in steps]),
        "signal_groups": _mean([h.get("signal_groups", 0) for h in steps]),
        "staleness": _mean(stale) if stale else 0.0,
        # Peers' completions: mean per-token log-ratio local − sender, and the weight they got.
        "external_log_ratio": sum(t["external_rows"] * t["external_log_ratio"] for t in ext) / rows if rows else math.nan,
        "external_weight": sum(t["external_rows"] * t["external_weight"] for t in ext) / rows if rows else math.nan,
        "seconds": result.get("seconds", 0),
    }


def curves(results: list[dict], config: str, rounds: int) -> dict[str, Any]:
    """Per round: mean cumulative reward over seeds (each seed: mean over its nodes) with 95% bands;
    per evaluation round: held-out accuracy likewise."""
    runs = [r for r in results if r["config"] == config]
    cum_by_round: list[list[float]] = [[] for _ in range(rounds)]
    acc_by_label: dict[int, list[float]] = {}
    for r in runs:
        per_node = []
        for node in r["nodes"]:
            c, series = 0.0, []
            for h in node["rounds"][:rounds]:
                c += h["own_reward"]
                series.append(c)
            per_node.append(series)
        for k in range(rounds):
            vals = [s[k] for s in per_node if len(s) > k]
            if vals:
                cum_by_round[k].append(sum(vals) / len(vals))
        labels = sorted({e["round"] for node in r["nodes"] for e in node["evaluations"] if e["round"] <= rounds})
        for label in labels:
            vals = [e["accuracy"] for node in r["nodes"] for e in [_eval_at(node["evaluations"], label)] if e]
            if vals:
                acc_by_label.setdefault(label, []).append(sum(vals) / len(vals))
    return {
        "cum": [st.ci95(v) if v else None for v in cum_by_round],
        "acc": {k: st.ci95(v) for k, v in sorted(acc_by_label.items())},
    }


def plot(results: list[dict], configs: list[str], rounds: int, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=120)
    for i, config in enumerate(configs):
        c = curves(results, config, rounds)
        color = f"C{i}"
        pts = [(k + 1, ci) for k, ci in enumerate(c["cum"]) if ci is not None]
        if pts:
            n = max(ci.n for _, ci in pts)
            xs = [x for x, _ in pts]
            ax1.plot(xs, [ci.mean for _, ci in pts], color=color, label=f"{config} (n={n})")
            lo = [ci.low if not math.isnan(ci.low) else ci.mean for _, ci in pts]
            hi = [ci.high if not math.isnan(ci.high) else ci.mean for _, ci in pts]
            ax1.fill_between(xs, lo, hi, color=color, alpha=0.15)
        if c["acc"]:
            xs = list(c["acc"])
            ax2.plot(xs, [ci.mean for ci in c["acc"].values()], color=color, marker="o", label=config)
            ax2.fill_between(xs, [ci.low if not math.isnan(ci.low) else ci.mean for ci in c["acc"].values()],
                             [ci.high if not math.isnan(ci.high) else ci.mean for ci in c["acc"].values()],
                             color=color, alpha=0.15)
    ax1.set_xlabel("round")
    ax1.set_ylabel("cumulative training reward per node")
    ax1.set_title("training reward (mean over seeds, 95% CI)")
    ax2.set_xlabel("round (0: base model)")
    ax2.set_ylabel("held-out accuracy (greedy pass@1)")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_title("held-out accuracy (mean over seeds, 95% CI)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _ci(ci: st.Interval, digits: int = 2) -> str:
    if math.isnan(ci.mean):
        return "–"
    if math.isnan(ci.low):
        return f"{ci.mean:.{digits}f}"
    return f"{ci.mean:.{digits}f} [{ci.low:.{digits}f}, {ci.high:.{digits}f}]"


def _fmt(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.2f}"


def _p(p: float) -> str:
    return "–" if math.isnan(p) else f"{p:.3f}"


def write(results: list[dict], configs: list[str], args, out: Path) -> str:
    """Write rounds.csv, runs.csv, experiment.png and summary.md; return the summary's text."""
    rounds = args.rounds
    configs = [c for c in configs if any(r["config"] == c for r in results)]
    rows = [row for r in results for row in node_rows(r)]
    with open(out / "rounds.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    runs = [run_summary(r, rounds) for r in results]
    runs.sort(key=lambda r: (configs.index(r["config"]), r["seed"]))
    with open(out / "runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(runs[0]))
        w.writeheader()
        w.writerows([{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in runs])
    title = (f"{args.setting}: {args.model} on '{args.tasks}', {args.nodes} nodes, {args.groups} groups x "
             f"{args.group_size} per step, lr {args.learning_rate:g}")
    plot(results, configs, rounds, out / "experiment.png", title)

    by = {c: {r["seed"]: r for r in runs if r["config"] == c} for c in configs}
    lines = [f"# Experiment: {args.setting}", "",
             f"{title}; {rounds} rounds; held-out set of {args.eval_questions} questions, greedy pass@1. "
             f"Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "| configuration | seeds | cumulative training reward, mean [95% CI] | × isolated "
             "| held-out accuracy, base | held-out accuracy, final [95% CI] | learns at round |",
             "|---|---|---|---|---|---|---|"]
    iso = by.get("isolated", {})
    iso_mean = _mean([r["cum_reward"] for r in iso.values()]) if iso else math.nan
    for c in configs:
        rs = list(by[c].values())
        cum = st.ci95([r["cum_reward"] for r in rs])
        finals = [r["final_accuracy"] for r in rs if not math.isnan(r["final_accuracy"])]
        final = st.ci95(finals) if finals else st.Interval(math.nan, math.nan, math.nan, 0)
        ratio = f"{cum.mean / iso_mean:.2f}×" if iso_mean and not math.isnan(iso_mean) and iso_mean > 0 else "–"
        lines.append(f"| {c} | {len(rs)} | {_ci(cum)} | {ratio} | {_mean([r['base_accuracy'] for r in rs]):.3f} "
                     f"| {_ci(final, 3)} | {_mean([r['onset_round'] for r in rs]):.1f} |")
    if iso:
        lines += ["", "Paired against isolated, seed by seed (difference = configuration − isolated; "
                  "paired t-test, two-sided; exact sign-flip permutation test as a check):", "",
                  "| configuration | pairs | Δ cumulative reward [95% CI] | p (t) | p (sign-flip) "
                  "| Δ final accuracy [95% CI] | p (t) | p (sign-flip) |", "|---|---|---|---|---|---|---|---|"]
        for c in configs:
            if c == "isolated":
                continue
            common = sorted(set(by[c]) & set(iso))
            if not common:
                continue
            pc = st.paired([by[c][s]["cum_reward"] for s in common], [iso[s]["cum_reward"] for s in common])
            acc_seeds = [s for s in common
                         if not math.isnan(by[c][s]["final_accuracy"]) and not math.isnan(iso[s]["final_accuracy"])]
            if acc_seeds:
                pa = st.paired([by[c][s]["final_accuracy"] for s in acc_seeds],
                               [iso[s]["final_accuracy"] for s in acc_seeds])
                acc_cells = f"{_ci(pa.diff, 3)} | {_p(pa.p_t)} | {_p(pa.p_sign_flip)}"
            else:
                acc_cells = "– | – | –"
            lines.append(f"| {c} | {len(common)} | {_ci(pc.diff)} | {_p(pc.p_t)} | {_p(pc.p_sign_flip)} | {acc_cells} |")
    lines += ["", "Where the signal comes from (means over nodes, rounds and seeds):", "",
              "| configuration | steps taken (share of rounds) | groups with signal per step "
              "| external groups trained | peers' groups with signal on offer | staleness of external (rounds) "
              "| log-ratio local − sender per token | importance weight | seconds per run |",
              "|---|---|---|---|---|---|---|---|---|"]
    for c in configs:
        rs = list(by[c].values())
        lines.append(f"| {c} | {_mean([r['stepped_fraction'] for r in rs]):.2f} "
                     f"| {_mean([r['groups_used'] for r in rs]):.2f} | {_mean([r['external_groups'] for r in rs]):.2f} "
                     f"| {_mean([r['signal_groups'] for r in rs]):.2f} | {_mean([r['staleness'] for r in rs]):.2f} "
                     f"| {_fmt(_mean([r['external_log_ratio'] for r in rs]))} "
                     f"| {_fmt(_mean([r['external_weight'] for r in rs]))} "
                     f"| {_mean([float(r['seconds']) for r in rs]):.0f} |")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text
