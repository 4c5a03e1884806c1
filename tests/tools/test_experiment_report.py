"""The experiment's configuration parsing and report, on synthetic runs with known figures."""

from __future__ import annotations

import argparse
import csv

import pytest

from swarmd.tools import experiment, expreport


def test_configurations_parse_at_equal_groups_per_step() -> None:
    configs = experiment.parse_configs("isolated,3/1,2/2,1/3,2/2+tis", 4)
    assert [(c.local, c.external, c.selection) for c in configs] == [
        (4, 0, "uniform"), (3, 1, "uniform"), (2, 2, "uniform"), (1, 3, "uniform"), (2, 2, "tis")]
    assert configs[4].slug == "2-2-tis"
    for bad, why in [("3/2", "must equal"), ("0/4", "L >= 1"), ("two", "expected"), ("2/2+best", "unknown"),
                     ("2/2,2/2", "twice"), ("", "no configurations")]:
        with pytest.raises(ValueError, match=why):
            experiment.parse_configs(bad, 4)


def run(config: str, seed: int, rewards: list[list[float]], final: list[float]) -> dict:
    nodes = []
    for i, rs in enumerate(rewards):
        nodes.append({"node": i, "rounds": [
            {"round": k, "own_reward": r, "local_groups": 2, "external_groups": 2, "signal_groups": 1,
             "staleness": [0, 1], "train": {"stepped": r > 0, "groups_used": 2, "external_rows": 4,
                                            "external_log_ratio": -0.5, "external_weight": 1.0}}
            for k, r in enumerate(rs)],
            "evaluations": [{"round": 0, "accuracy": 0.0, "mean_reward": 0.0, "examples": 4},
                            {"round": len(rs), "accuracy": final[i], "mean_reward": final[i], "examples": 4}]})
    return {"config": config, "seed": seed, "seconds": 10, "nodes": nodes}


def test_report_figures_and_paired_comparison(tmp_path) -> None:
    # isolated: cumulative 1, 2, 3 per seed; 2/2: 2, 4, 6 -> differences 1, 2, 3
    results = []
    for seed, total in enumerate([1.0, 2.0, 3.0]):
        results.append(run("isolated", seed, [[0.0, total], [total, 0.0]], [0.25, 0.25]))
        results.append(run("2/2", seed, [[total, total], [0.0, 2 * total]], [0.5, 0.75]))
    args = argparse.Namespace(rounds=2, setting="sparse", model="tiny", tasks="sparse", nodes=2, groups=4,
                              group_size=4, learning_rate=0.02, eval_questions=4)
    text = expreport.write(results, ["isolated", "2/2"], args, tmp_path)
    runs = list(csv.DictReader(open(tmp_path / "runs.csv")))
    assert [float(r["cum_reward"]) for r in runs] == [1.0, 2.0, 3.0, 2.0, 4.0, 6.0]
    assert [float(r["final_accuracy"]) for r in runs] == [0.25] * 3 + [0.625] * 3
    # isolated mean 2 [2 ± t(.975, 2) * 1 / sqrt(3) = 2 ± 2.484]; 2/2 is 2.00x
    assert "| isolated | 3 | 2.00 [-0.48, 4.48] | 1.00× |" in text
    assert "| 2/2 | 3 | 4.00 [-0.97, 8.97] | 2.00× |" in text
    # paired differences 1, 2, 3: t = 2 / (1 / sqrt 3) = 3.464, df 2, p = 0.074; sign-flip 2/8
    assert "| 2/2 | 3 | 2.00 [-0.48, 4.48] | 0.074 | 0.250 | 0.375 [0.375, 0.375] | 0.000 | 0.250 |" in text
    assert (tmp_path / "experiment.png").stat().st_size > 10_000
    assert len(list(csv.DictReader(open(tmp_path / "rounds.csv")))) == 6 * 2 * 2
