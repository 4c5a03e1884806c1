"""An exported adapter is portable: the base model's public name, a model card, normal file modes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.support.daemons import SWARMD, DaemonProcess, wait_until

pytestmark = [pytest.mark.process, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def test_export_is_a_portable_peft_directory(short_tmp: Path) -> None:
    # A restrictive umask, as under systemd's UMask=0077: the export's modes must not follow it.
    umask_077 = ["/bin/sh", "-c", 'umask 077; exec "$0" "$@"', *SWARMD]
    config = {
        "node": {"swarm_id": "card-swarm"},
        "p2p": {"enabled": False},
        "chain": {"enabled": False},
        "web": {"enabled": False},
        "trainer": {"model": "tiny", "cache_dir": str(REPO / ".cache" / "test-models"), "threads": 1,
                    "sampling": {"max_new_tokens": 8}},
        "swarm": {"round_source": "clock", "tasks": "dense", "questions_per_round": 2, "group_size": 2,
                  "external_groups": 0},
    }
    d = DaemonProcess(short_tmp / "n", config, name="n", command=umask_077).start(timeout=120)
    try:
        wait_until(lambda: d.status().round.rounds_completed >= 1, 300, interval=0.5, what="one round trained")
        out = short_tmp / "adapter"
        reply = d.ctl_json("export", str(out), timeout=300)
        assert Path(reply["directory"]) == out
    finally:
        d.stop()
    names = {p.name for p in out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md", "swarmd.json"} <= names
    config_json = json.loads((out / "adapter_config.json").read_text())
    assert config_json["base_model_name_or_path"] == "swarmd/tiny"  # a public name, not the local cache path
    assert str(REPO) not in (out / "adapter_config.json").read_text()
    card = (out / "README.md").read_text()
    assert card.startswith("---\nbase_model: \"swarmd/tiny\"\nlibrary_name: peft\n")
    assert "Initial template" not in card  # PEFT's empty template is replaced
    assert "card-swarm" in card and "swarmd_letters (100%)" in card
    facts = json.loads((out / "swarmd.json").read_text())
    assert facts["swarm_id"] == "card-swarm" and facts["rounds"] >= 1 and facts["steps"] >= 1
    assert f"| rounds trained | {facts['rounds']} " in card and f"| optimizer steps | {facts['steps']} |" in card
    if facts["held_out"]:  # the held-out evaluation ran before the export: its score is on the card
        first = sorted(facts["held_out"].items())[0]
        assert f"| held-out score | {first[0]} {first[1]:.3f}" in card
    else:
        assert "| held-out score | not measured |" in card
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p


def test_public_names() -> None:
    from swarmd.trainer.card import public_name

    assert public_name("smollm2-135m") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert public_name("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert public_name("/srv/models/my-finetune") == "my-finetune"
