"""Is the trainer worker's memory flat over many steps? ``python -m bench.trainer_memory``.

Runs the real worker behind the supervisor for 200 GRPO steps on the tiny
model (new questions every step, as rounds bring them; a checkpoint every 10
steps, as rounds end) and reports the worker's resident memory at step 10
and step 200, and the largest value seen. A leak shows as growth between the
two. Kept out of the test suite: it takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from bench.table import Row, render, write
from bench.trainer import CACHE, digit_share
from swarmd import tasks
from swarmd.trainer.config import TrainerConfig
from swarmd.trainer.protocol import TrainGroup
from swarmd.trainer.supervisor import TrainerSupervisor


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def measure(steps: int, prompts: int, group: int, max_tokens: int, log=print) -> dict[int, int]:
    samples: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="sd-bench-memory-") as tmp:
        cfg = TrainerConfig.model_validate({
            "model": "tiny", "cache_dir": str(CACHE), "threads": 2, "worker_nice": 0,
            "sampling": {"max_new_tokens": max_tokens}, "grpo": {"learning_rate": 1e-3},
        })
        sup = TrainerSupervisor(cfg, Path(tmp))
        await sup.start()
        try:
            await sup.wait_ready(600)
            for step in range(1, steps + 1):
                refs = tasks.draw_refs(tasks.EASY_TASKS, tasks.round_seed("bench", "memory", step), prompts)
                groups = await sup.rollouts(refs, group)
                train = [TrainGroup(g.prompt, g.completions, [r + digit_share(c) for r, c in
                                                              zip(g.rewards, g.completions, strict=True)])
                         for g in groups]
                await sup.train(train)
                if step % 10 == 0:
                    await sup.checkpoint({"round": step})
                    samples[step] = rss(sup.worker_pid)
                    log(f"    step {step}: worker RSS {samples[step] / 2**20:.0f} MiB")
        finally:
            await sup.stop()
    return samples


def run(args) -> list[Row]:
    steps = 200
    samples = asyncio.run(measure(steps, 4, 4, 32, log=lambda m: print(m, file=sys.stderr, flush=True)))
    first, last, peak = samples[10], samples[steps], max(samples.values())
    growth = (last - first) / first
    return [
        Row("trainer", "worker RSS at step 10 (tiny, 4×4 × 32 tok)", f"{first / 2**20:.0f} MiB"),
        Row("trainer", f"worker RSS at step {steps}", f"{last / 2**20:.0f} MiB", "flat (< 5% growth)",
            growth < 0.05, note=f"growth {growth * 100:+.1f}%, largest sample {peak / 2**20:.0f} MiB"),
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=Path("out/bench-trainer-memory.md"))
    args = p.parse_args()
    rows = run(args)
    print(render(rows))
    write(rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
