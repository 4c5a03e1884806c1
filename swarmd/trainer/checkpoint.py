"""Checkpoints on disk: atomic directories with a manifest, newest valid one wins.

A checkpoint is ``<root>/ckpt-<seq:08d>/`` holding opaque files (the worker
puts safetensors and JSON there) and ``manifest.json``: the sequence number,
the caller's metadata, and every file's size and sha256. It is written in
a temporary directory, each file fsync'ed, the manifest last, then renamed
into place and the parent fsync'ed: a crash leaves either the whole
checkpoint or a ``.tmp-*`` directory that is ignored and later removed.

Loading walks from the highest sequence number down and takes the first
checkpoint whose manifest parses and whose files match their hashes (and
that the caller accepts, e.g. same model); every one skipped is reported
with its reason. Nothing here imports torch: the daemon side may read
manifests too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmd.errors import SwarmdError
from swarmd.paths import FILE_MODE, make_dir

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
_NAME = re.compile(r"ckpt-(\d{8,})")
_FILE = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class CheckpointError(SwarmdError):
    """A checkpoint that cannot be used; the message says why."""


@dataclass
class Checkpoint:
    path: Path
    seq: int
    meta: dict[str, Any]  # what the caller stored
    files: dict[str, bytes]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # exactly, whatever the umask
    with open(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def sequence_numbers(root: Path) -> list[tuple[int, Path]]:
    """(seq, path) of every checkpoint directory, newest first."""
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        m = _NAME.fullmatch(child.name)
        if m and child.is_dir():
            found.append((int(m.group(1)), child))
    return sorted(found, reverse=True)


def save(root: Path, files: dict[str, bytes], meta: dict[str, Any], keep: int) -> Path:
    """Write a checkpoint atomically, then keep only the ``keep`` newest; returns its path."""
    for name in files:
        if not _FILE.fullmatch(name) or name == MANIFEST:
            raise ValueError(f"bad checkpoint file name {name!r}")
    make_dir(root)
    existing = sequence_numbers(root)
    seq = existing[0][0] + 1 if existing else 1
    final = root / f"ckpt-{seq:08d}"
    tmp = root / f".tmp-ckpt-{seq:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    make_dir(tmp)
    try:
        manifest = {"format": FORMAT, "seq": seq, "meta": meta, "files": {}}
        for name, data in files.items():
            _write(tmp / name, data)
            manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        _write(tmp / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        _fsync_dir(tmp)
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune(root, keep)
    return final


def prune(root: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest checkpoints and any abandoned temporary directory."""
    removed = []
    for _, path in sequence_numbers(root)[max(keep, 1):]:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    for child in root.iterdir() if root.is_dir() else ():
        if child.name.startswith(".tmp-ckpt-") and not child.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def read(path: Path) -> Checkpoint:
    """Read and verify one checkpoint; CheckpointError saying what is wrong."""
    m = _NAME.fullmatch(path.name)
    if not m:
        raise CheckpointError(f"{path.name} is not a checkpoint directory name")
    try:
        manifest = json.loads((path / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise CheckpointError("no manifest.json") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"manifest.json unreadable: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"manifest format {manifest.get('format') if isinstance(manifest, dict) else '?'} "
                              f"is not {FORMAT}")
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not isinstance(manifest.get("meta"), dict):
        raise CheckpointError("manifest lacks files or meta")
    files = {}
    for name, info in listed.items():
        if not isinstance(name, str) or not _FILE.fullmatch(name) or not isinstance(info, dict):
            raise CheckpointError(f"manifest lists a bad file entry {name!r}")
        try:
            data = (path / name).read_bytes()
        except OSError as e:
            raise CheckpointError(f"{name} unreadable: {e.strerror or e}") from None
        if len(data) != info.get("size") or hashlib.sha256(data).hexdigest() != info.get("sha256"):
            raise CheckpointError(f"{name} does not match its recorded size and sha256")
        files[name] = data
    return Checkpoint(path, int(m.group(1)), manifest["meta"], files)


def newest_valid(
    root: Path,
    accept: Callable[[dict[str, Any]], str | None] = lambda meta: None,
    warn: Callable[[str], None] = log.warning,
    skip: set[Path] | frozenset[Path] = frozenset(),
) -> Checkpoint | None:
    """The newest checkpoint that verifies and that ``accept`` (meta → reason or None) takes."""
    for _, path in sequence_numbers(root):
        if path in skip:
            continue
        try:
            ckpt = read(path)
        except CheckpointError as e:
            warn(f"skipping corrupt checkpoint {path}: {e}")
            continue
        reason = accept(ckpt.meta)
        if reason:
            warn(f"skipping checkpoint {path}: {reason}")
            continue
        return ckpt
    return None
