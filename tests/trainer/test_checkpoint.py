"""Checkpoint files: atomic writes, keep-last-K, newest valid wins, corrupt ones skipped with a warning."""

from __future__ import annotations

import json
import os

import pytest

from swarmd.trainer import checkpoint


def save(root, n: int, keep: int = 10):
    return checkpoint.save(root, {"a.bin": bytes([n]) * 100, "b.json": json.dumps({"n": n}).encode()},
                           {"step": n}, keep)


def test_save_and_read_back(tmp_path) -> None:
    path = save(tmp_path, 1)
    assert path.name == "ckpt-00000001" and sorted(os.listdir(path)) == ["a.bin", "b.json", "manifest.json"]
    ck = checkpoint.read(path)
    assert ck.seq == 1 and ck.meta == {"step": 1} and ck.files["a.bin"] == b"\x01" * 100
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_keep_last_k(tmp_path) -> None:
    for n in range(1, 6):
        save(tmp_path, n, keep=2)
    assert [p.name for _, p in checkpoint.sequence_numbers(tmp_path)] == ["ckpt-00000005", "ckpt-00000004"]


@pytest.mark.parametrize("damage, reason", [
    (lambda p: (p / "a.bin").write_bytes(b"\x03" * 100), "does not match"),
    (lambda p: (p / "a.bin").write_bytes(b"\x02" * 99), "does not match"),
    (lambda p: (p / "a.bin").unlink(), "unreadable"),
    (lambda p: (p / "manifest.json").write_text("{not json"), "manifest.json unreadable"),
    (lambda p: (p / "manifest.json").unlink(), "no manifest.json"),
    (lambda p: (p / "manifest.json").write_text(json.dumps({"format": 99})), "format"),
])
def test_corrupt_newest_is_skipped_with_a_warning(tmp_path, damage, reason) -> None:
    save(tmp_path, 1)
    damage(save(tmp_path, 2))
    warnings: list[str] = []
    found = checkpoint.newest_valid(tmp_path, warn=warnings.append)
    assert found is not None and found.seq == 1 and found.meta == {"step": 1}
    assert len(warnings) == 1 and "ckpt-00000002" in warnings[0] and reason in warnings[0]


def test_accept_filter_and_nothing_valid(tmp_path) -> None:
    assert checkpoint.newest_valid(tmp_path) is None  # no directory at all
    save(tmp_path, 1)
    save(tmp_path, 2)
    warnings: list[str] = []
    found = checkpoint.newest_valid(tmp_path, accept=lambda m: "other model" if m["step"] == 2 else None,
                                    warn=warnings.append)
    assert found.seq == 1 and "other model" in warnings[0]
    assert checkpoint.newest_valid(tmp_path, accept=lambda m: "no", warn=warnings.append) is None


def test_interrupted_write_leaves_no_checkpoint(tmp_path) -> None:
    save(tmp_path, 1)
    # A crash mid-write leaves a temporary directory: never loaded, removed by the next save.
    stale = tmp_path / ".tmp-ckpt-00000002-999999"
    stale.mkdir()
    (stale / "a.bin").write_bytes(b"partial")
    assert checkpoint.newest_valid(tmp_path).seq == 1
    assert save(tmp_path, 2).name == "ckpt-00000002"
    assert not stale.exists()


def test_bad_file_names_refused(tmp_path) -> None:
    for name in ("../x", "manifest.json", "a/b", ""):
        with pytest.raises(ValueError):
            checkpoint.save(tmp_path, {name: b""}, {}, 3)
