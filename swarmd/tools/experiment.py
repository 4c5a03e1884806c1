"""`make experiment`: does sharing help? Isolated nodes against SAPO nodes, same compute.

Two swarms run side by side on this machine, each with a coordinator bootnode
and N training daemons, on the same task preset, model and sampling settings:

- isolated: every node trains on T local groups per round (J = 0, no sharing);
- sharing:  every node trains on T/2 local + T/2 external groups (SAPO's mix).

Each training step sees T groups in both, so the comparison holds compute
fixed. After R rounds the per-node rewards of each round (the mean verified
reward of the node's own completions) are written to a CSV, and the mean
cumulative reward per configuration to a PNG plot.

    python -m swarmd.tools.experiment --nodes 2 --rounds 40 --model tiny --tasks digits
    python -m swarmd.tools.experiment --model smollm2-135m --tasks easy --learning-rate 1e-5 \
        --lora-targets q_proj,k_proj,v_proj,o_proj --max-new-tokens 48 --rounds 10
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import shutil
import sys
import time
from pathlib import Path

from swarmd import identity
from swarmd.tools.procs import Daemon, wait_until

REPO = Path(__file__).resolve().parents[2]
CONFIGS = ("isolated", "sharing")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m swarmd.tools.experiment", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=2, help="training daemons per configuration (default 2)")
    p.add_argument("--rounds", type=int, default=40, help="rounds to run (default 40)")
    p.add_argument("--groups", type=int, default=4, help="T: groups per training step (default 4)")
    p.add_argument("--group-size", type=int, default=4, help="G: completions per question (default 4)")
    p.add_argument("--model", default="tiny", help="trainer.model for every node (default tiny)")
    p.add_argument("--tasks", default="digits", help="task preset (default digits: a tiny model can learn it)")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=2e-2,
                   help="default suits the tiny model; use about 1e-5 for real models")
    p.add_argument("--lora-targets", default="all-linear",
                   help="comma-separated module names, or all-linear (default: a tiny model moves slowly otherwise)")
    p.add_argument("--stage-timeout", type=float, default=600.0)
    p.add_argument("--out", type=Path, default=REPO / "out" / "experiment")
    p.add_argument("--cache", type=Path, default=REPO / ".cache" / "models")
    return p


def _node_config(args, config: str, i: int, boot_addr: str, coordinator: str) -> dict:
    local = args.groups if config == "isolated" else args.groups // 2
    return {
        "node": {"swarm_id": f"exp-{config}", "shutdown_timeout_s": 60},
        "log": {"level": "info"},
        "web": {"enabled": False},
        "p2p": {"bootnodes": [boot_addr]},
        "swarm": {
            "environment": "sapo",
            "tasks": args.tasks,
            "round_source": "coordinator",
            "coordinators": [coordinator],
            "questions_per_round": local,
            "external_groups": args.groups - local,
            "group_size": args.group_size,
            "stage_timeout_s": args.stage_timeout,
        },
        "trainer": {
            "model": args.model,
            "cache_dir": str(args.cache),
            "seed": i,
            "threads": 1,
            "sampling": {"max_new_tokens": args.max_new_tokens},
            "grpo": {"learning_rate": args.learning_rate},
            "lora": {"target_modules": args.lora_targets.split(",")},
        },
    }


def _rounds_done(d: Daemon) -> int:
    return d.status().round.rounds_completed


def _history(d: Daemon) -> list[dict]:
    path = d.data_dir / "swarm" / "state.json"
    return json.loads(path.read_text()).get("history", [])


def plot(rows: list[dict], path: Path) -> dict[str, list[float]]:
    """Mean cumulative reward per configuration over rounds; returns the plotted series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[float]] = {}
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for config in CONFIGS:
        nodes = sorted({r["node"] for r in rows if r["config"] == config})
        rounds = sorted({r["round_index"] for r in rows if r["config"] == config})
        means = []
        for k in rounds:
            values = [r["cumulative"] for r in rows if r["config"] == config and r["round_index"] == k]
            means.append(sum(values) / len(values))
        series[config] = means
        ax.plot([k + 1 for k in rounds], means, marker="o", label=f"{config} ({len(nodes)} nodes)")
    ax.set_xlabel("round")
    ax.set_ylabel("mean cumulative reward per node")
    ax.set_title("SAPO sharing vs isolated training (same groups per step)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return series


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.groups < 2 or args.groups % 2:
        print("--groups must be even and at least 2 (sharing splits it in half)", file=sys.stderr)
        return 2
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    daemons: list[Daemon] = []
    trainers: dict[str, list[Daemon]] = {c: [] for c in CONFIGS}
    t0 = time.monotonic()
    try:
        for config in CONFIGS:
            boot_dir = out / config / "coordinator"
            # The coordinator is named by peer ID in every node's config: create its identity first.
            boot_peer = identity.load_or_create(boot_dir / "identity.key")[0].peer_id
            boot = Daemon(boot_dir, name=f"{config}-coordinator")
            boot.config_tree = {
                "node": {"mode": "bootnode", "swarm_id": f"exp-{config}"},
                "web": {"enabled": False},
                "p2p": {"listen": ["/ip4/127.0.0.1/tcp/0"]},
                "swarm": {
                    "environment": "sapo", "tasks": args.tasks, "round_source": "coordinator",
                    "coordinators": [boot_peer], "stage_timeout_s": args.stage_timeout,
                    "questions_per_round": args.groups if config == "isolated" else args.groups // 2,
                    "external_groups": 0 if config == "isolated" else args.groups // 2,
                    "group_size": args.group_size,
                },
            }
            boot.start(timeout=60)
            daemons.append(boot)
            wait_until(lambda b=boot: [a for a in b.status().mesh.listen_addrs if "/p2p/" in a], 60, what="coordinator listening")
            addr = next(a for a in boot.status().mesh.listen_addrs if "/p2p/" in a)
            for i in range(args.nodes):
                d = Daemon(out / config / f"node{i}", _node_config(args, config, i, addr, boot_peer), name=f"{config}-{i}")
                d.start(timeout=120)
                daemons.append(d)
                trainers[config].append(d)
        print(f"==> {len(daemons)} daemons up; running {args.rounds} rounds", flush=True)
        last = -1
        while True:
            done = {c: min(_rounds_done(d) for d in ds) for c, ds in trainers.items()}
            slowest = min(done.values())
            if slowest != last:
                print(f"    {time.monotonic() - t0:6.0f}s  rounds completed: "
                      + ", ".join(f"{c} {n}" for c, n in done.items()), flush=True)
                last = slowest
            if slowest >= args.rounds:
                break
            for d in daemons:
                if not d.alive:
                    raise RuntimeError(f"{d.name} exited; see {d.log_path}")
            time.sleep(2)
    finally:
        for d in reversed(daemons):
            with contextlib.suppress(Exception):
                d.stop(timeout=90)

    rows: list[dict] = []
    for config, ds in trainers.items():
        for n, d in enumerate(ds):
            played = [h for h in _history(d) if h.get("own_reward") is not None][: args.rounds]
            cumulative = 0.0
            for k, h in enumerate(played):
                cumulative += h["own_reward"]
                rows.append({
                    "config": config, "node": n, "round_index": k, "round": h["round"],
                    "reward": round(h["own_reward"], 6), "cumulative": round(cumulative, 6),
                    "local_groups": h["local_groups"], "external_groups": h["external_groups"],
                })
    csv_path = out / "experiment.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    series = plot(rows, out / "experiment.png")
    summary = {c: {"final_mean_cumulative": s[-1] if s else None, "rounds": len(s)} for c, s in series.items()}
    (out / "summary.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                 "series": series, "summary": summary}, indent=2))
    print(f"==> {csv_path}\n==> {out / 'experiment.png'}")
    for c, s in series.items():
        print(f"    {c:<9} mean cumulative reward after {len(s)} rounds: {s[-1]:.3f}" if s else f"    {c}: no rounds")
    iso, shr = series.get("isolated"), series.get("sharing")
    if iso and shr and iso[-1] > 0:
        print(f"    sharing / isolated: {shr[-1] / iso[-1]:.2f}×")
    print(f"    took {time.monotonic() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
