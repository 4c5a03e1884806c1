"""Our GRPO step against TRL's GRPOTrainer: same model, LoRA, prompts, group size, tokens, KL.

    python -m bench trainer [--quick]          # the tiny model and SmolLM2-135M on this machine
    python -m bench.trainer --model Qwen/Qwen2.5-0.5B-Instruct --prompts 8 --group 8 \\
        --max-tokens 512 --steps 3             # one model, e.g. on a GPU (device chosen automatically)

Ours runs as the daemon runs it: the real worker process behind the
supervisor (sampling, scoring, re-tokenizing, one optimizer step, over the
pipe). TRL runs in its own process (bench/trl_child.py) one step at a time.
The two alternate step by step (A/B interleaved) after one warm-up step
each, so load from other processes hits both alike. A step is: sample G
completions for each prompt, score them, one optimizer step.

Reward: ``bench_reward`` — the verifier's score plus the share of digits in
the completion — the same function on both sides. Both train on every row:
ours runs with ``grpo.skip_zero_advantage = false`` (TRL never skips), and
the rows table reports how many groups ours would have skipped.

Timing: both windows are measured the same way, in this process, from the
request to the answer (ours: rollouts + train through the supervisor; TRL:
"go" to its step report), so process hand-offs count on both sides. A pair
is one step of each, back to back, the order alternating from pair to pair.

Figures: median step seconds, generated tokens per second over the whole
step (sampled tokens ÷ step time; completion lengths differ between the two
samplers, so this is the fair ratio, taken per pair and then the median),
the machine's load average during the run, and the peak resident memory of
each process (VmHWM, which includes loading the model).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.table import Row
from swarmd import tasks
from swarmd.trainer.config import TrainerConfig
from swarmd.trainer.protocol import TrainGroup
from swarmd.trainer.supervisor import TrainerSupervisor

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "bench-models"


@dataclass
class Setup:
    model: str
    prompts: int
    group: int
    max_tokens: int
    steps: int
    kl_beta: float = 0.0
    threads: int = 0
    learning_rate: float = 1e-5
    seed: int = 0


@dataclass
class Side:
    step_s: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    peak_rss: int = 0
    peak_gpu: int = 0
    generate_tps: list[float] = field(default_factory=list)
    train_tps: list[float] = field(default_factory=list)
    skippable: int = 0  # groups with equal rewards (trained anyway)
    load: list[float] = field(default_factory=list)

    @property
    def median_step(self) -> float:
        return statistics.median(self.step_s)

    @property
    def tokens_per_s(self) -> float:
        return sum(self.tokens) / sum(self.step_s)


def digit_share(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    return sum(c.isdigit() for c in chars) / max(len(chars), 1)


def bench_reward(score: float, text: str) -> float:
    """The benchmark's reward on both sides: the verifier's score plus a dense digit-share term."""
    return score + digit_share(text)


def vm_hwm(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _threads(setup: Setup) -> int:
    return setup.threads or len(os.sched_getaffinity(0))


async def compare(setup: Setup, log=print) -> tuple[Side, Side, dict]:
    refs = tasks.draw_refs(tasks.EASY_TASKS, 2024, setup.prompts)
    ours, trl = Side(), Side()
    with tempfile.TemporaryDirectory(prefix="sd-bench-trainer-") as tmp:
        cfg = TrainerConfig.model_validate({
            "model": setup.model, "cache_dir": str(CACHE), "threads": _threads(setup), "seed": setup.seed,
            "micro_batch": setup.prompts * setup.group, "worker_nice": 0,
            "sampling": {"max_new_tokens": setup.max_tokens, "temperature": 1.0},
            "grpo": {"learning_rate": setup.learning_rate, "kl_beta": setup.kl_beta,
                     "max_completion_tokens": setup.max_tokens, "skip_zero_advantage": False},
        })
        sup = TrainerSupervisor(cfg, Path(tmp))
        await sup.start()
        child = None
        try:
            log(f"    loading {setup.model} in our worker")
            await sup.wait_ready(1800)
            info = {"device": sup.device, "dtype": sup.dtype, "source": sup.model_source}
            spec = {
                "source": sup.model_source, "refs": [r.to_json() for r in refs], "group_size": setup.group,
                "max_new_tokens": setup.max_tokens, "temperature": 1.0, "learning_rate": setup.learning_rate,
                "kl_beta": setup.kl_beta, "seed": setup.seed, "threads": _threads(setup),
                "steps": setup.steps + 1, "lora": cfg.lora.model_dump(mode="json"),
            }
            with open(Path(tmp) / "trl.log", "wb") as trl_log:  # noqa: ASYNC230 - opening a file, once
                child = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bench.trl_child", stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, stderr=trl_log, cwd=REPO,
                )
            child.stdin.write((json.dumps(spec) + "\n").encode())
            log("    loading TRL GRPOTrainer")
            if json.loads(await _line(child, tmp)).get("ready") is not True:
                raise RuntimeError("TRL child did not start")
            async def our_step() -> tuple[float, int, object]:
                t0 = time.perf_counter()
                groups = await sup.rollouts(refs, setup.group)
                train = [TrainGroup(g.prompt, g.completions, [bench_reward(r, c) for r, c in
                                                              zip(g.rewards, g.completions, strict=True)])
                         for g in groups]
                stats = await sup.train(train)
                dt = time.perf_counter() - t0
                ours.skippable += sum(1 for g in train if max(g.rewards) - min(g.rewards) <= 1e-6)
                return dt, sum(sum(g.completion_tokens) for g in groups), stats

            async def their_step() -> tuple[float, dict]:
                t0 = time.perf_counter()
                child.stdin.write(b"go\n")
                theirs = json.loads(await _line(child, tmp))
                return time.perf_counter() - t0, theirs

            for i in range(setup.steps + 1):
                warm = i == 0
                if i % 2 == 0:
                    ours_s, tokens, stats = await our_step()
                    trl_s, theirs = await their_step()
                else:
                    trl_s, theirs = await their_step()
                    ours_s, tokens, stats = await our_step()
                load = os.getloadavg()[0]
                log(f"    pair {i}{' (warm-up)' if warm else ''}: ours {ours_s:.2f}s {tokens} tokens, "
                    f"TRL {trl_s:.2f}s {theirs['tokens']} tokens, ratio "
                    f"{(tokens / ours_s) / max(theirs['tokens'] / trl_s, 1e-9):.2f}, load {load:.1f}")
                if warm:
                    ours.skippable = 0
                    continue
                ours.load.append(load)
                ours.step_s.append(ours_s)
                ours.tokens.append(tokens)
                ours.generate_tps.append(sup.last_generation.get("generate_tokens_per_s", 0.0))
                ours.train_tps.append(stats.tokens_per_s)
                ours.peak_gpu = max(ours.peak_gpu, stats.peak_memory_bytes if sup.device.startswith("cuda") else 0)
                trl.step_s.append(trl_s)
                trl.tokens.append(theirs["tokens"])
                trl.peak_gpu = max(trl.peak_gpu, theirs.get("peak_gpu", 0))
            ours.peak_rss = vm_hwm(sup.worker_pid)
            trl.peak_rss = vm_hwm(child.pid)
        finally:
            if child is not None and child.returncode is None:
                child.kill()
                await child.wait()
            await sup.stop()
    return ours, trl, info


async def _line(child, tmp: str) -> str:
    line = await asyncio.wait_for(child.stdout.readline(), 1800)
    if not line:
        tail = (Path(tmp) / "trl.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"TRL child exited:\n{tail}")
    return line.decode()


def rows(label: str, setup: Setup, ours: Side, trl: Side, info: dict) -> list[Row]:
    gpu = info["device"].startswith("cuda")
    goal = 2.0
    what = (f"{label}, {setup.prompts}×{setup.group} × {setup.max_tokens} tok, KL {setup.kl_beta:g}, "
            f"{info['device']}/{info['dtype']}")
    # Each pair of steps ran back to back, so the per-pair ratio cancels most of the drift in
    # machine load; the headline is the median of those ratios.
    pairs = [(o_tok / o_s) / (t_tok / t_s) for o_tok, o_s, t_tok, t_s in
             zip(ours.tokens, ours.step_s, trl.tokens, trl.step_s, strict=True) if t_tok and o_s and t_s]
    ratio = statistics.median(pairs) if pairs else 0.0
    out = [
        Row("trainer", f"{what}: ours s/step (median of {len(ours.step_s)})", f"{ours.median_step:.2f} s",
            note=f"TRL ÷ ours {trl.median_step / ours.median_step:.2f}×"),
        Row("trainer", f"{what}: TRL s/step (median)", f"{trl.median_step:.2f} s"),
        Row("trainer", f"{what}: ours generated tok/s", f"{ours.tokens_per_s:.0f}",
            note=f"sampling alone {statistics.median(ours.generate_tps):.0f} tok/s, "
                 f"training pass {statistics.median(ours.train_tps):.0f} tok/s"),
        Row("trainer", f"{what}: TRL generated tok/s", f"{trl.tokens_per_s:.0f}"),
        Row("trainer", f"{what}: throughput ours ÷ TRL (median of step pairs)", f"{ratio:.2f}×", f"≥ {goal:g}×",
            ratio >= goal, note=f"pairs {', '.join(f'{r:.2f}' for r in pairs)}; all steps together "
                                f"{ours.tokens_per_s / trl.tokens_per_s:.2f}×; same reward, every row trained "
                                f"({ours.skippable} groups with equal rewards); load average "
                                f"{min(ours.load, default=0):.1f}–{max(ours.load, default=0):.1f}"),
        Row("trainer", f"{what}: peak RSS ours / TRL", f"{ours.peak_rss / 2**30:.2f} / {trl.peak_rss / 2**30:.2f} GiB"),
    ]
    if gpu:
        out.append(Row("trainer", f"{what}: peak GPU memory ours / TRL",
                       f"{ours.peak_gpu / 2**30:.2f} / {trl.peak_gpu / 2**30:.2f} GiB"))
    return out


def default_setups(quick: bool) -> list[tuple[str, Setup]]:
    return [
        ("tiny", Setup("tiny", prompts=4, group=4, max_tokens=32, steps=4 if quick else 8)),
        ("SmolLM2-135M", Setup("smollm2-135m", prompts=2, group=4, max_tokens=32 if quick else 48,
                               steps=2 if quick else 4)),
    ]


def run(args) -> list[Row]:
    out: list[Row] = []
    for label, setup in default_setups(getattr(args, "quick", False)):
        print(f"  {label}", file=sys.stderr, flush=True)
        ours, trl, info = asyncio.run(compare(setup, log=lambda m: print(m, file=sys.stderr, flush=True)))
        out += rows(label, setup, ours, trl, info)
    return out


def main() -> int:
    from bench.table import render, write

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="one model (a trainer.model value); default: tiny and smollm2-135m")
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--group", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--steps", type=int, default=3, help="measured steps after one warm-up step")
    p.add_argument("--kl", type=float, default=0.0, help="KL weight beta, the same on both sides")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=Path("out/bench-trainer.md"))
    args = p.parse_args()
    if args.model:
        setup = Setup(args.model, args.prompts, args.group, args.max_tokens, args.steps, args.kl, args.threads)
        ours, trl, info = asyncio.run(compare(setup, log=lambda m: print(m, file=sys.stderr, flush=True)))
        table = rows(args.model, setup, ours, trl, info)
    else:
        table = run(args)
    print(render(table))
    write(table, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
