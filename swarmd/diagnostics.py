"""What a bug report needs from a running daemon (``GetDiagnostics``, ``swarmctl bundle``).

Never a key, a token or a credential: the configuration is rendered with
credential-bearing values redacted (an RPC URL keeps only its scheme, host and
port), and as a second line of defence every secret the daemon can read (the
control token, the chain key, the keystore password, an RPC URL's path and
user info) is replaced wherever it appears in the text collected.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from swarmd import __version__, logs
from swarmd._pb.swarm.v1 import control_pb2 as pb

if TYPE_CHECKING:
    from swarmd.config import Config
    from swarmd.daemon import Daemon

REDACTED = "<redacted>"
PACKAGES = ("grpcio", "protobuf", "libp2p", "web3", "aiohttp", "uvloop", "pydantic", "torch", "transformers",
            "peft", "reasoning-gym", "safetensors")
LOG_FILE_TAIL_BYTES = 256 * 1024
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_SECRET_NAME = re.compile(r"(secret|password|passwd|token|api_key|apikey|private_key)$")


def redact_url(url: str) -> str:
    """scheme://host:port only: user info, path and query often carry API keys."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if not parts.scheme or not parts.hostname:
        return REDACTED
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    tail = "/" + REDACTED if (parts.path.strip("/") or parts.query) else ""
    who = REDACTED + "@" if parts.username or parts.password else ""
    return f"{parts.scheme}://{who}{host}{port}{tail}"


def config_toml(config: Config) -> str:
    """The resolved configuration as ``swarmd --check`` prints it, with credential values redacted."""
    from swarmd.configdoc import render_toml

    return render_toml(_redacted(config))


def redacted_config(config: Config) -> Config:
    """A copy of ``config`` with credential-bearing values redacted (GetConfig, GetDiagnostics)."""
    return _redacted(config)


def _redacted(model: BaseModel) -> Any:
    updates: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            updates[name] = _redacted(value)
        elif isinstance(value, str) and (name.endswith("_url") or "://" in value):
            updates[name] = redact_url(value)
        elif isinstance(value, str) and _SECRET_NAME.search(name):
            updates[name] = REDACTED
        elif isinstance(value, list) and any(isinstance(v, str) and "://" in v for v in value):
            updates[name] = [redact_url(v) if isinstance(v, str) and "://" in v else v for v in value]
    return model.model_copy(update=updates)


def _read_small(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        if path.is_file() and path.stat().st_size <= 64 * 1024:
            return path.read_text(errors="replace").strip()
    except OSError:
        pass
    return ""


def secrets_of(config: Config) -> list[str]:
    """Every secret value this daemon can read: to be scrubbed from anything collected."""
    found = [_read_small(config.token_path)]
    chain = config.chain
    key = _read_small(chain.key_file or config.data_dir / "chain.key")
    found += [key, key.removeprefix("0x")]
    found.append(_read_small(chain.password_file))
    url = urlsplit(chain.rpc_url) if chain.rpc_url else None
    if url is not None:
        found += [url.password or "", url.username or "", url.path.strip("/"), url.query]
    # Short strings would redact ordinary words; every real secret here is longer.
    return sorted({s for s in found if len(s) >= 6}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    text = _USERINFO.sub(REDACTED + "@", text)
    for s in secrets:
        text = text.replace(s, REDACTED)
    return text


def versions() -> dict[str, str]:
    out = {"swarmd": __version__, "python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def system(data_dir: Path) -> dict[str, str]:
    out = {
        "os": platform.platform(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpus": str(os.cpu_count() or 0),
        "python_executable": sys.executable,
    }
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        out["memory_bytes"] = str(pages * size)
    except (ValueError, OSError):
        pass
    try:
        out["data_dir_free_bytes"] = str(shutil.disk_usage(data_dir).free)
    except OSError:
        pass
    try:
        out["load_average"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    return out


def _file_tail(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - LOG_FILE_TAIL_BYTES))
            data = f.read()
    except OSError as e:
        return f"(cannot read {path}: {e.strerror or e})"
    text = data.decode(errors="replace")
    return text if size <= LOG_FILE_TAIL_BYTES else text.split("\n", 1)[-1]


def collect(daemon: Daemon, log_lines: int = 0) -> pb.Diagnostics:
    config = daemon.config
    secrets = secrets_of(config)
    lines = list(logs.RECENT.lines)
    if log_lines:
        lines = lines[-log_lines:]
    events = []
    for event in list(daemon.events.history):
        copy = pb.Event()
        copy.CopyFrom(event)
        copy.message = scrub(copy.message, secrets)
        events.append(copy)
    from google.protobuf import json_format

    status = json_format.Parse(scrub(json_format.MessageToJson(daemon.status()), secrets), pb.Status())
    return pb.Diagnostics(
        status=status,
        config_toml=scrub(config_toml(config), secrets),
        log_lines=[scrub(line, secrets) for line in lines],
        recent_events=events,
        versions=versions(),
        system=system(config.data_dir),
        log_file_tail=scrub(_file_tail(config.log_path), secrets),
    )
