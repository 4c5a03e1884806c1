"""`make soak`: many rounds on the tiny model with three daemons, watching for leaks.

Samples the resident memory and open file descriptors of every daemon and its
trainer worker while the swarm plays, then reports the growth after warm-up
(from the sample at ``--warmup`` of the run to the last one) and plots the
curves. Growth above 10% on any process is reported as a failure.

    python -m swarmd.tools.soak --rounds 300
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from swarmd import identity
from swarmd.tools.procs import DaemonProcess, wait_until

REPO = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(i: int, coordinator: str, bootnodes: list[str], cache: Path) -> dict:
    return {
        "node": {"swarm_id": "soak"},
        "log": {"level": "info"},
        "web": {"port": 0},
        "p2p": {"listen": [f"/ip4/127.0.0.1/tcp/{_port()}"], "bootnodes": bootnodes},
        "trainer": {"model": "tiny", "cache_dir": str(cache), "threads": 1, "seed": i,
                    "sampling": {"max_new_tokens": 12}, "grpo": {"learning_rate": 1e-3}},
        "swarm": {"round_source": "coordinator", "coordinators": [coordinator], "tasks": "dense",
                  "questions_per_round": 2, "external_groups": 4, "group_size": 4, "stage_timeout_s": 60,
                  "start_min_peers": 3, "announce_interval_s": 0.5},
    }


def _sample(pid: int) -> tuple[int, int]:
    """(RSS bytes, open file descriptors) of a live process; (0, 0) when it is gone."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0, 0


def _rounds(d: DaemonProcess) -> int:
    return d.status().round.rounds_completed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m swarmd.tools.soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=300)
    p.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=0.2, help="fraction of the run treated as warm-up")
    p.add_argument("--out", type=Path, default=REPO / "out" / "soak")
    p.add_argument("--cache", type=Path, default=REPO / ".cache" / "models")
    args = p.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    coordinator = identity.load_or_create(args.out / "n0" / "identity.key")[0].peer_id
    nodes: list[DaemonProcess] = []
    samples: list[dict] = []
    t0 = time.monotonic()
    try:
        n0 = DaemonProcess(args.out / "n0", _config(0, coordinator, [], args.cache), name="n0").start(timeout=120)
        nodes.append(n0)
        boot = wait_until(lambda: [a for a in n0.status().mesh.listen_addrs if "/p2p/" in a], 60, what="listening")[:1]
        for i in (1, 2):
            nodes.append(DaemonProcess(args.out / f"n{i}", _config(i, coordinator, boot, args.cache), name=f"n{i}").start(timeout=120))
        print(f"==> 3 daemons up; sampling every {args.interval:g}s until {args.rounds} rounds", flush=True)
        last_print = 0.0
        while True:
            now = time.monotonic() - t0
            for d in nodes:
                st = d.status()
                for role, pid in (("daemon", d.proc.pid), ("worker", st.training.worker_pid)):
                    rss, fds = _sample(pid) if pid else (0, 0)
                    samples.append({"t": round(now, 1), "node": d.name, "process": role, "pid": pid,
                                    "round": st.round.rounds_completed, "rss_mib": round(rss / 2**20, 2), "fds": fds})
            done = min(_rounds(d) for d in nodes)
            if now - last_print > 60:
                print(f"    {now:6.0f}s  rounds {done}/{args.rounds}", flush=True)
                last_print = now
            if done >= args.rounds:
                break
            for d in nodes:
                if not d.alive:
                    raise RuntimeError(f"{d.name} exited; see {d.log_path}")
            time.sleep(args.interval)
    finally:
        for d in reversed(nodes):
            with contextlib.suppress(Exception):
                d.stop(timeout=90)
    with open(args.out / "soak.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(samples[0]))
        w.writeheader()
        w.writerows(samples)
    summary = growth(samples, args.warmup)
    plot(samples, args.out / "soak.png")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{'process':<12} {'RSS after warm-up':>18} {'RSS at end':>11} {'growth':>7} {'fds':>9}")
    failed = False
    for key, s in summary.items():
        flag = "" if s["rss_growth_pct"] <= 10 and s["fd_growth"] <= max(2, s["fds_start"] * 0.1) else "  <-- grows"
        failed |= bool(flag)
        print(f"{key:<12} {s['rss_start_mib']:>15.1f} MiB {s['rss_end_mib']:>7.1f} MiB {s['rss_growth_pct']:>6.1f}% "
              f"{s['fds_start']:>3}→{s['fds_end']:<3}{flag}")
    print(f"\n{args.out / 'soak.csv'} · {args.out / 'soak.png'} · {time.monotonic() - t0:.0f}s")
    return 1 if failed else 0


def growth(samples: list[dict], warmup: float) -> dict[str, dict]:
    """Per process: RSS and FDs at the end of warm-up and at the end, and the growth."""
    out: dict[str, dict] = {}
    t_end = max(s["t"] for s in samples)
    for key in sorted({(s["node"], s["process"]) for s in samples}):
        rows = [s for s in samples if (s["node"], s["process"]) == key and s["rss_mib"] > 0]
        if not rows:
            continue
        start = next((s for s in rows if s["t"] >= warmup * t_end), rows[0])
        # the same process throughout: a restarted worker would restart the count
        rows = [s for s in rows if s["pid"] == rows[-1]["pid"]]
        end = rows[-1]
        out[f"{key[0]}/{key[1]}"] = {
            "rss_start_mib": start["rss_mib"], "rss_end_mib": end["rss_mib"],
            "rss_growth_pct": round(100 * (end["rss_mib"] - start["rss_mib"]) / start["rss_mib"], 2),
            "fds_start": start["fds"], "fds_end": end["fds"], "fd_growth": end["fds"] - start["fds"],
            "rounds": end["round"],
        }
    return out


def plot(samples: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), dpi=110, sharex=True)
    for key in sorted({(s["node"], s["process"]) for s in samples}):
        rows = [s for s in samples if (s["node"], s["process"]) == key and s["rss_mib"] > 0]
        ax1.plot([s["round"] for s in rows], [s["rss_mib"] for s in rows], label=f"{key[0]} {key[1]}")
        ax2.plot([s["round"] for s in rows], [s["fds"] for s in rows], label=f"{key[0]} {key[1]}")
    ax1.set_ylabel("RSS (MiB)")
    ax2.set_ylabel("open fds")
    ax2.set_xlabel("rounds completed")
    ax1.legend(fontsize=7, ncol=3)
    ax1.set_title("soak: memory and file descriptors per process")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
