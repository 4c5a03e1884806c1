"""`python -m bench.gpu --tiny`: the GPU benchmark script end to end on a CPU (a smoke test, not timings)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.process, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def test_gpu_benchmark_runs_end_to_end_with_the_tiny_configuration(tmp_path) -> None:
    out = tmp_path / "bench-gpu.md"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "bench.gpu", "--tiny", "--out", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {r["side"]: r for r in json.loads(out.with_suffix(".json").read_text())}
    ours = results["swarmd"]
    assert len(ours["step_s"]) == 1 and ours["step_s"][0] > 0
    assert ours["tokens"] == 2 * 2 * 8  # fixed lengths: prompts × group × max tokens
    assert ours["decode_b1"] > 0 and ours["decode_bn"] > 0
    assert "greedy tokens dynamic = static: True" in ours["note"]
    table = out.read_text()
    assert "| tiny | swarmd |" in table
    if importlib.util.find_spec("trl") is not None:
        theirs = results["TRL GRPOTrainer"]
        assert theirs["tokens"] == ours["tokens"] and theirs["step_s"][0] > 0, theirs["note"]
        assert "TRL s/step ÷ ours" in table
