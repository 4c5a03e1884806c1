"""`make experiment`: does sharing help? Isolated nodes against SAPO mixes, same compute, many seeds.

A sweep runs every configuration with every seed. One run is a swarm of its
own on this machine: a coordinator bootnode and N training daemons. Every
configuration trains on T groups per step (``--groups``, default 4):

- ``isolated``: T local groups (J = 0, no sharing);
- ``L/E``:      L local + E external groups, L + E = T (SAPO's mix; 3/1, 2/2, 1/3 by default).

Runs of the same seed give their nodes the same trainer seeds (adapter
initialization, sampling), so configurations are compared seed by seed.
Nodes are heterogeneous: each has its own seed and sampling temperature
(``--temperatures``, cycled). Every node re-scores peers' completions itself
and drops zero-advantage groups, as in any swarmd swarm. Each node evaluates
its adapter on the swarm's held-out set (greedy pass@1) before training and
every ``--eval-every`` rounds.

Settings (``--setting``) fix the model, task and training hyper-parameters:

- ``sparse``: the tiny random model on ``swarmd_sparse`` (reward 1 only for an
  answer with two or more digits; a fresh model earns it on ~6% of samples);
- ``easy``: SmolLM2-135M-Instruct on easy reasoning-gym configs it solves sometimes.

Output in ``--out`` (default out/experiment/<setting>): ``runs/<config>-s<seed>/``
(each run's daemons and its ``result.json``), ``rounds.csv`` (per node and
round), ``runs.csv`` (per run), ``summary.md`` (per configuration: mean and
95% CI of cumulative training reward and of final held-out accuracy, paired
tests against isolated), ``experiment.png`` (curves with 95% bands). A sweep
that was interrupted resumes where it stopped: finished runs are kept, an
unfinished one is run again; ``--fresh`` starts over; ``--report`` only
rewrites the report from the finished runs.

    python -m swarmd.tools.experiment --setting sparse --seeds 5
    python -m swarmd.tools.experiment --setting easy --seeds 5 --rounds 30
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmd import identity
from swarmd.tools import expreport
from swarmd.tools.procs import DaemonProcess, wait_until

REPO = Path(__file__).resolve().parents[2]

SETTINGS: dict[str, dict[str, Any]] = {
    "sparse": {"model": "tiny", "tasks": "sparse", "learning_rate": 2e-2, "lora_targets": "all-linear",
               "max_new_tokens": 32, "rounds": 40, "eval_every": 10, "eval_questions": 32},
    "easy": {"model": "smollm2-135m", "tasks": "easy", "learning_rate": 2e-5,
             "lora_targets": "q_proj,k_proj,v_proj,o_proj", "max_new_tokens": 48, "rounds": 30,
             "eval_every": 10, "eval_questions": 32},
}
DEFAULT_CONFIGS = "isolated,3/1,2/2,1/3"


@dataclass(frozen=True)
class RunConfig:
    """A mix: ``local`` + ``external`` groups per step; ``selection`` how external groups are chosen."""

    name: str
    local: int
    external: int
    selection: str = "uniform"

    @property
    def slug(self) -> str:
        return self.name.replace("/", "-").replace("+", "-")


# Variants of a mix ("2/2+tis"): "tis" trains peers' completions with a truncated importance
# weight (trainer.grpo.external_is_cap = 1, see swarmd.trainer.offpolicy).
SELECTIONS = ("uniform", "tis")


def parse_configs(text: str, groups: int) -> list[RunConfig]:
    """'isolated,3/1,2/2' → configs; every mix must add up to ``groups``."""
    out = []
    for raw in (t.strip() for t in text.split(",") if t.strip()):
        if raw == "isolated":
            out.append(RunConfig("isolated", groups, 0))
            continue
        mix, _, selection = raw.partition("+")
        try:
            local, external = (int(x) for x in mix.split("/"))
        except ValueError:
            raise ValueError(f"configuration {raw!r}: expected 'isolated' or L/E such as 2/2") from None
        if local < 1 or external < 0 or local + external != groups:
            raise ValueError(f"configuration {raw!r}: L >= 1 and L + E must equal --groups ({groups})")
        if selection and selection not in SELECTIONS:
            raise ValueError(f"configuration {raw!r}: unknown selection {selection!r} (known: {', '.join(SELECTIONS)})")
        out.append(RunConfig(raw, local, external, selection or "uniform"))
    if not out:
        raise ValueError("no configurations")
    if len({c.name for c in out}) != len(out):
        raise ValueError("a configuration is listed twice")
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m swarmd.tools.experiment", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--setting", choices=sorted(SETTINGS), default="sparse")
    p.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"comma-separated (default {DEFAULT_CONFIGS})")
    p.add_argument("--seeds", type=int, default=5, help="seeds per configuration (default 5)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--nodes", type=int, default=4, help="training daemons per run (default 4)")
    p.add_argument("--rounds", type=int, help="rounds per run (default: the setting's)")
    p.add_argument("--groups", type=int, default=4, help="T: groups per training step (default 4)")
    p.add_argument("--group-size", type=int, default=4, help="G: completions per question (default 4)")
    p.add_argument("--model", help="trainer.model (default: the setting's)")
    p.add_argument("--tasks", help="task preset (default: the setting's)")
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--lora-targets", help="comma-separated module names, or all-linear")
    p.add_argument("--temperatures", default="1.0,1.1,0.9,1.2", help="sampling temperature per node, cycled")
    p.add_argument("--eval-every", type=int, help="held-out evaluation every this many rounds")
    p.add_argument("--eval-questions", type=int, help="held-out set size")
    p.add_argument("--staleness-window", type=int, default=1)
    p.add_argument("--stage-timeout", type=float, default=600.0)
    p.add_argument("--parallel", type=int, default=1, help="runs at once (default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    p.add_argument("--out", type=Path)
    p.add_argument("--cache", type=Path, default=REPO / ".cache" / "models")
    p.add_argument("--fresh", action="store_true", help="discard finished runs and start over")
    p.add_argument("--report", action="store_true", help="only rewrite the report from finished runs")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep each node's checkpoints")
    return p


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    for key, value in SETTINGS[args.setting].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.out is None:
        args.out = REPO / "out" / "experiment" / args.setting
    return args


# Arguments that change what a run measures: a sweep resumes only with the same ones.
IDENTITY_KEYS = ("setting", "nodes", "rounds", "groups", "group_size", "model", "tasks", "max_new_tokens",
                 "learning_rate", "lora_targets", "temperatures", "eval_every", "eval_questions",
                 "staleness_window")


def identity_of(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in IDENTITY_KEYS}


# -- one run -------------------------------------------------------------------


def node_config(args, config: RunConfig, seed: int, i: int, boot_addr: str, coordinator: str) -> dict:
    temps = [float(t) for t in args.temperatures.split(",")]
    return {
        "node": {"swarm_id": f"exp-{args.setting}", "shutdown_timeout_s": 60},
        "log": {"level": "info"},
        "web": {"enabled": False},
        "p2p": {"bootnodes": [boot_addr]},
        "swarm": {
            "environment": "sapo", "tasks": args.tasks, "round_source": "coordinator",
            "coordinators": [coordinator], "questions_per_round": config.local,
            "external_groups": config.external, "group_size": args.group_size,
            "stage_timeout_s": args.stage_timeout, "staleness_window": args.staleness_window,
            "eval_every_rounds": args.eval_every, "eval_questions": args.eval_questions,
            "eval_budget_s": 3 * args.stage_timeout,
        },
        "trainer": {
            "model": args.model, "cache_dir": str(args.cache), "seed": 1000 * seed + i,
            "threads": args.threads,
            "sampling": {"max_new_tokens": args.max_new_tokens, "temperature": temps[i % len(temps)]},
            "grpo": {"learning_rate": args.learning_rate, "external_is_cap": 1.0 if config.selection == "tis" else 0.0},
            "lora": {"target_modules": args.lora_targets.split(",")},
        },
    }


def _state(d: DaemonProcess) -> dict:
    path = d.data_dir / "swarm" / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _finished(d: DaemonProcess, rounds: int, eval_every: int) -> tuple[int, bool]:
    """(rounds trained, final evaluation made) of a node."""
    played = d.status().round.rounds_completed
    if eval_every <= 0:
        return played, True
    evals = _state(d).get("evaluations", []) if played >= rounds else []
    return played, any(e.get("round", 0) >= rounds for e in evals)


def run_one(args, config: RunConfig, seed: int, run_dir: Path, progress: dict[str, int]) -> dict:
    """Play one swarm to ``args.rounds`` rounds and its final evaluation; its result (JSON-able)."""
    if run_dir.exists():
        shutil.rmtree(run_dir)  # an unfinished run starts over
    run_dir.mkdir(parents=True)
    key = f"{config.name} s{seed}"
    daemons: list[DaemonProcess] = []
    nodes: list[DaemonProcess] = []
    t0 = time.time()
    try:
        boot_dir = run_dir / "coordinator"
        boot_peer = identity.load_or_create(boot_dir / "identity.key")[0].peer_id
        boot = DaemonProcess(boot_dir, name=f"{key} coordinator")
        boot.config_tree = {
            "node": {"mode": "bootnode", "swarm_id": f"exp-{args.setting}"},
            "log": {"level": "info"},
            "web": {"enabled": False},
            "p2p": {"listen": ["/ip4/127.0.0.1/tcp/0"]},
            "swarm": {
                "environment": "sapo", "tasks": args.tasks, "round_source": "coordinator",
                "coordinators": [boot_peer], "stage_timeout_s": args.stage_timeout,
                "start_min_peers": args.nodes, "questions_per_round": config.local,
                "external_groups": config.external, "group_size": args.group_size,
            },
        }
        boot.start(timeout=120)
        daemons.append(boot)
        addr = wait_until(lambda: next((a for a in boot.status().mesh.listen_addrs if "/p2p/" in a), None), 60,
                          what="coordinator listening")
        for i in range(args.nodes):
            d = DaemonProcess(run_dir / f"node{i}", node_config(args, config, seed, i, addr, boot_peer), name=f"{key} node{i}")
            d.start(timeout=180)
            daemons.append(d)
            nodes.append(d)
        deadline = time.monotonic() + args.stage_timeout * (args.rounds + 3)
        while True:
            states = [_finished(d, args.rounds, args.eval_every) for d in nodes]
            progress[key] = min(min(p for p, _ in states), args.rounds)
            if all(p >= args.rounds and done for p, done in states):
                break
            for d in daemons:
                if not d.alive:
                    raise RuntimeError(f"{d.name} exited; see {d.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {key} did not finish {args.rounds} rounds in time")
            time.sleep(2)
    finally:
        for d in reversed(daemons):
            with contextlib.suppress(Exception):
                d.stop(timeout=90)
    result = {"config": config.name, "seed": seed, "seconds": round(time.time() - t0, 1), "nodes": []}
    for i, d in enumerate(nodes):
        state = _state(d)
        played = [h for h in state.get("history", []) if h.get("own_reward") is not None][: args.rounds]
        result["nodes"].append({"node": i, "rounds": played, "evaluations": state.get("evaluations", [])})
        if not args.keep_checkpoints:
            shutil.rmtree(d.data_dir / "checkpoints", ignore_errors=True)
    tmp = run_dir / "result.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.rename(run_dir / "result.json")
    return result


# -- the sweep -----------------------------------------------------------------


def _fmt_s(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def main(argv: list[str] | None = None) -> int:
    args = resolve(_parser().parse_args(argv))
    try:
        configs = parse_configs(args.configs, args.groups)
    except ValueError as e:
        print(f"--configs: {e}", file=sys.stderr)
        return 2
    if args.seeds < 1 or args.nodes < 2 or args.rounds < 1 or args.parallel < 1:
        print("--seeds, --rounds and --parallel must be >= 1 and --nodes >= 2", file=sys.stderr)
        return 2
    out: Path = args.out
    if args.fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    sweep_file = out / "sweep.json"
    ident = identity_of(args)
    if sweep_file.exists():
        before = json.loads(sweep_file.read_text()).get("identity")
        if before != ident:
            changed = sorted(k for k in ident if (before or {}).get(k) != ident[k])
            print(f"{out} holds a sweep with other settings ({', '.join(changed)}); use --fresh or another --out",
                  file=sys.stderr)
            return 2
    sweep_file.write_text(json.dumps({"identity": ident}, indent=1))

    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    plan = [(c, s) for s in seeds for c in configs]
    todo = [(c, s) for c, s in plan if not (out / "runs" / f"{c.slug}-s{s}" / "result.json").exists()]
    if not args.report:
        print(f"==> {args.setting}: {len(configs)} configurations x {len(seeds)} seeds, {args.nodes} nodes, "
              f"{args.rounds} rounds; {len(plan) - len(todo)} runs done, {len(todo)} to go", flush=True)
        run_sweep(args, todo, out)
    results = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*/result.json"))]
    wanted = {(c.name, s) for c, s in plan}
    results = [r for r in results if (r["config"], r["seed"]) in wanted]
    if not results:
        print("no finished runs to report", file=sys.stderr)
        return 1
    report = expreport.write(results, [c.name for c in configs], args, out)
    print(report)
    return 0


def run_sweep(args, todo: list[tuple[RunConfig, int]], out: Path) -> None:
    progress: dict[str, int] = {}
    errors: list[str] = []
    lock = threading.Lock()
    queue = list(todo)
    total = len(todo) * args.rounds
    t0 = time.monotonic()

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                config, seed = queue.pop(0)
            key = f"{config.name} s{seed}"
            progress[key] = 0
            try:
                result = run_one(args, config, seed, out / "runs" / f"{config.slug}-s{seed}", progress)
                progress[key] = args.rounds
                print(f"    done {key} in {_fmt_s(result['seconds'])}", flush=True)
            except Exception as e:  # noqa: BLE001 - the sweep goes on; the run is retried next time
                progress[key] = args.rounds
                errors.append(f"{key}: {e}")
                print(f"    FAILED {key}: {e}", flush=True)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(args.parallel, len(todo)))]
    for t in threads:
        t.start()
    last, printed = "", 0.0
    while any(t.is_alive() for t in threads):
        done = sum(progress.values())
        elapsed = time.monotonic() - t0
        running = ", ".join(f"{k} r{v}" for k, v in progress.items() if v < args.rounds)
        now = f"{done}/{total} rounds ({100 * done / max(total, 1):.0f}%)  running: {running or '-'}"
        if now != last or elapsed - printed >= 60:
            # Rounds per second so far, start-up of every run included.
            eta = _fmt_s(elapsed / done * (total - done)) if done else "?"
            print(f"    {_fmt_s(elapsed)}  ETA {eta}  {now}", flush=True)
            last, printed = now, elapsed
        time.sleep(5)
    for t in threads:
        t.join()
    if errors:
        print(f"==> {len(errors)} run(s) failed (rerun the same command to retry them):", flush=True)
        for e in errors:
            print(f"    {e}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
