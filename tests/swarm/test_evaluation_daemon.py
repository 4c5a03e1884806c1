"""Held-out evaluation in a real daemon: status (swarmctl --json), the event stream, /metrics."""

from __future__ import annotations

import json
import threading
import urllib.request

import grpc
import pytest

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from tests.support.daemons import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.process]


def test_evaluation_in_status_events_and_metrics(swarm) -> None:
    lead = swarm.identity("n0")
    d = swarm.add("n0", 0, [lead], start=False, sections={"web": {"port": 0}},
                  tasks="sparse", eval_every_rounds=2, eval_questions=6, eval_batch=4)
    d.start(timeout=120)

    evaluated: list[pb.Event] = []
    seen_two = threading.Event()
    channel = grpc.insecure_channel(f"unix:{d.socket}")
    stream = pb_grpc.SwarmControlStub(channel).WatchEvents(pb.WatchEventsRequest(kinds=[pb.EVENT_KIND_TRAINING]))
    stream.initial_metadata()  # subscribed before the trainer is ready, so the baseline is seen

    def follow() -> None:
        try:
            for event in stream:
                if event.training.state == "evaluated":
                    evaluated.append(event)
                    if len(evaluated) >= 2:
                        seen_two.set()
                        return
        except grpc.RpcError:
            pass

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        assert seen_two.wait(400), "two evaluations in the event stream"
    finally:
        stream.cancel()
        channel.close()
    base, after = (e.training.evaluation for e in evaluated[:2])
    assert base.round == 0 and base.policy_version == 0 and base.examples == 6
    # sparse reward: a round whose groups all scored alike takes no optimizer step
    assert after.round >= 2 and 0 <= after.policy_version <= after.round and after.examples == 6
    assert set(base.per_task) == {"swarmd_sparse"} and base.per_task["swarmd_sparse"].examples == 6
    assert "held-out evaluation" in evaluated[0].message

    status = wait_until(lambda: (s := d.ctl_json("status"))["training"].get("evaluation") and s, 60,
                        what="evaluation in swarmctl status --json")
    ev = status["training"]["evaluation"]
    assert int(ev["round"]) >= 2 and int(ev["examples"]) == 6
    assert 0.0 <= ev["accuracy"] <= 1.0 and 0.0 <= ev["mean_reward"] <= 1.0
    assert set(ev["per_task"]) == {"swarmd_sparse"}

    text = urllib.request.urlopen(d.status().dashboard_url.rstrip("/") + "/metrics", timeout=10).read().decode()
    samples = {line.rpartition(" ")[0]: float(line.rpartition(" ")[2]) for line in text.splitlines()
               if line and not line.startswith("#")}
    assert samples["swarmd_eval_round"] >= 2
    assert 0.0 <= samples["swarmd_eval_accuracy"] <= 1.0
    assert 'swarmd_eval_task_accuracy{task="swarmd_sparse"}' in samples
    assert samples['swarmd_evaluations_total{outcome="done"}'] >= 2

    # The dashboard's chart: its data and its script.
    base_url = d.status().dashboard_url.rstrip("/")
    api = json.loads(urllib.request.urlopen(base_url + "/api/evaluations", timeout=10).read())
    assert [e["round"] for e in api["evaluations"]][:1] == [0] and api["evaluations"][-1]["round"] >= 2
    page = urllib.request.urlopen(base_url + "/", timeout=10).read().decode()
    assert 'id="evaluation-chart"' in page and "/static/evaluation.js" in page
    script = urllib.request.urlopen(base_url + "/static/evaluation.js", timeout=10).read().decode()
    assert "/api/evaluations" in script

    # The round record the evaluation followed carries it; the base model's is kept too.
    state = json.loads((d.data_dir / "swarm" / "state.json").read_text())
    assert state["evaluations"][0]["round"] == 0
    assert any(h.get("evaluation", {}).get("round") == h["round"] + 1 for h in state["history"])
