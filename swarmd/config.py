"""The daemon's configuration tree: defaults → TOML file → environment → command line.

Every field is typed, constrained and documented. Unknown keys are errors that
name the key. ``swarmd --check`` prints the resolved tree; ``swarmd
--config-reference`` prints the reference in docs/configuration.md.

Environment overrides are ``SWARMD_<SECTION>__<KEY>=value`` (double underscore
between section and key, e.g. ``SWARMD_P2P__LISTEN``); values are read as TOML
values when they parse as one (``3``, ``true``, ``["a", "b"]``) and as strings
otherwise.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from swarmd.chain.config import ChainConfig
from swarmd.configbase import Section
from swarmd.errors import SwarmdError
from swarmd.p2p.config import P2PConfig
from swarmd.paths import SOCKET_NAME, default_data_dir
from swarmd.swarm.config import SwarmConfig
from swarmd.trainer.config import TrainerConfig
from swarmd.web.config import WebConfig

ENV_PREFIX = "SWARMD_"
# Environment variables with this prefix that are not config overrides.
_ENV_NOT_CONFIG = {"SWARMD_CONFIG"}


class ConfigError(SwarmdError):
    """The configuration cannot be loaded; the message names the key or file."""


class NodeConfig(Section):
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory holding the identity key, checkpoints, the chain queue and "
        "the control socket. One daemon per directory.",
    )
    swarm_id: str = Field(
        "local",
        description="Name of the swarm; only peers with the same swarm ID are accepted.",
    )
    mode: Literal["trainer", "bootnode"] = Field(
        "trainer",
        description="'trainer' takes part in rounds; 'bootnode' only relays gossip and serves pulls.",
    )
    identity_file: Path | None = Field(
        None, description="Ed25519 libp2p key file (mode 0600). Default: DATA_DIR/identity.key."
    )
    shutdown_timeout_s: float = Field(
        30.0, gt=0, le=600, description="Deadline for a graceful stop, all subsystems together."
    )
    subsystem_start_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="Deadline for each subsystem to start."
    )

    @field_validator("swarm_id")
    @classmethod
    def _swarm_id(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", v):
            raise ValueError("must be 1-64 characters of a-z, 0-9, '.', '_', '-'")
        return v


class LogConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Minimum level of log records."
    )
    format: Literal["human", "json"] = Field(
        "human", description="'human' lines, or one JSON object per line for log collectors."
    )
    libp2p_level: Literal["debug", "info", "warning", "error"] = Field(
        "warning", description="Level of py-libp2p's own loggers."
    )
    file: Path | None = Field(
        None,
        description="Also write the log to this file (a relative path is inside the data directory, "
        "e.g. 'swarmd.log'), mode 0640, rotated by size. Off by default: stderr (the journal) only.",
    )
    max_bytes: int = Field(
        10 * 1024 * 1024, ge=64 * 1024, le=1 << 30, description="Size at which the log file is rotated."
    )
    backups: int = Field(5, ge=1, le=100, description="Rotated log files kept (FILE.1 ... FILE.N).")


def is_loopback_address(address: str) -> bool:
    """``HOST:PORT`` names a loopback host (127.0.0.0/8, ::1, localhost)."""
    host = address.rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


class ControlConfig(Section):
    socket: Path | None = Field(
        None, description="Unix socket of the gRPC control plane. Default: DATA_DIR/swarmd.sock."
    )
    socket_mode: str = Field(
        "0660",
        pattern=r"^0?[0-7]{3}$",
        description="Permissions of the socket file, in octal; they are the access control. "
        "The owner needs read and write; other users get nothing (use a group).",
    )
    tcp_address: str | None = Field(
        None,
        description="Also serve gRPC on HOST:PORT with a bearer token (e.g. '127.0.0.1:50051'). "
        "Off by default.",
    )
    token_file: Path | None = Field(
        None,
        description="Bearer token for TCP clients (mode 0600); created if missing. "
        "Default: DATA_DIR/control.token.",
    )
    max_message_bytes: int = Field(
        16 * 1024 * 1024, ge=65536, le=2**31 - 1,
        description="Largest gRPC message accepted or sent (gRPC's limit is 2 GiB - 1).",
    )
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate (chain) of the TCP control plane; with `tls_key_file` it serves TLS."
    )
    tls_key_file: Path | None = Field(None, description="PEM private key of `tls_cert_file` (mode 0600).")
    tls_client_ca_file: Path | None = Field(
        None,
        description="PEM CA bundle: TCP clients must present a certificate it signed (mutual TLS), "
        "on top of the bearer token.",
    )
    allow_insecure_tcp: bool = Field(
        False,
        description="Serve TCP without TLS on a non-loopback address (the bearer token crosses the "
        "network in clear). Refused unless set.",
    )

    @model_validator(mode="after")
    def _tls_pairs(self) -> ControlConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("control.tls_cert_file and control.tls_key_file go together: set both or neither")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("control.tls_client_ca_file needs control.tls_cert_file and control.tls_key_file")
        if self.tcp_address and not self.tls and not self.allow_insecure_tcp:
            if not is_loopback_address(self.tcp_address):
                raise ValueError(
                    f"control.tcp_address {self.tcp_address} is not a loopback address and TLS is off: the "
                    f"bearer token would cross the network in clear. Set control.tls_cert_file and "
                    f"control.tls_key_file, or control.allow_insecure_tcp = true to accept that"
                )
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def socket_mode_bits(self) -> int:
        return int(self.socket_mode, 8)

    @field_validator("socket_mode")
    @classmethod
    def _socket_mode(cls, v: str) -> str:
        bits = int(v, 8)
        if bits & 0o007:
            raise ValueError(
                "grants access to every user on the machine (anyone who can write the socket "
                "controls the daemon); give other users nothing, e.g. '0660' with a group"
            )
        if bits & 0o600 != 0o600:
            raise ValueError("the owner needs read and write permission (e.g. '0600' or '0660')")
        return v

    @field_validator("tcp_address")
    @classmethod
    def _tcp_address(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}", v):
            raise ValueError("must be HOST:PORT")
        return v


class Config(Section):
    node: NodeConfig = Field(default_factory=NodeConfig, description="Identity and data.")
    log: LogConfig = Field(default_factory=LogConfig, description="Logging.")
    control: ControlConfig = Field(default_factory=ControlConfig, description="gRPC control plane.")
    p2p: P2PConfig = Field(default_factory=P2PConfig, description="libp2p mesh.")
    trainer: TrainerConfig = Field(default_factory=TrainerConfig, description="Trainer worker.")
    swarm: SwarmConfig = Field(default_factory=SwarmConfig, description="Rounds and environments.")
    chain: ChainConfig = Field(default_factory=ChainConfig, description="On-chain participation.")
    web: WebConfig = Field(default_factory=WebConfig, description="Dashboard and metrics.")

    # Derived paths (no separate fields, so they cannot disagree with data_dir).
    @property
    def data_dir(self) -> Path:
        return self.node.data_dir

    @property
    def identity_file(self) -> Path:
        return self.node.identity_file or self.data_dir / "identity.key"

    @property
    def socket_path(self) -> Path:
        return self.control.socket or self.data_dir / SOCKET_NAME

    @property
    def token_path(self) -> Path:
        return self.control.token_file or self.data_dir / "control.token"

    @property
    def log_path(self) -> Path | None:
        f = self.log.file
        return None if f is None else (f if f.is_absolute() else self.data_dir / f)

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "swarmd.lock"


# TOML reads 0x5F… as an integer; on a command line or in the environment it is
# an address or a hash, never a number.
_PREFIXED_INT = re.compile(r"[+-]?0[xob][0-9a-fA-F_]*")


def _parse_env_value(raw: str) -> Any:
    if _PREFIXED_INT.fullmatch(raw.strip()):
        return raw.strip()
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _set_path(tree: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    parts = dotted.split(".")
    if any(not p for p in parts):
        raise ConfigError(f"{source}: malformed config key '{dotted}'")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{source}: '{part}' in '{dotted}' is not a section")
        node = child
    node[parts[-1]] = value


def env_overrides(environ: Mapping[str, str], sources: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``SWARMD_*`` overrides as a tree; ``sources`` (if given) maps each dotted key to its variable."""
    tree: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in _ENV_NOT_CONFIG:
            continue
        rest = name[len(ENV_PREFIX) :]
        if "__" not in rest:
            raise ConfigError(
                f"environment variable {name}: expected SWARMD_<SECTION>__<KEY> "
                f"(e.g. SWARMD_LOG__LEVEL)"
            )
        dotted = ".".join(p.lower() for p in rest.split("__"))
        _set_path(tree, dotted, _parse_env_value(raw), f"environment variable {name}")
        if sources is not None:
            sources[dotted] = f"environment variable {name}"
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except PermissionError:
        raise ConfigError(f"config file {path} is not readable (permission denied)") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {e.start}); TOML files must be UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read: {e.strerror or e}") from None


def _source_of(key: str, sources: Mapping[str, str], default: str) -> str:
    """Where a key's value came from: the override that set it (or a table above it), else the file."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        found = sources.get(".".join(parts[:n]))
        if found:
            return found
    return default


def _describe(error: dict[str, Any], sources: Mapping[str, str], default: str) -> str:
    key = ".".join(str(p) for p in error["loc"])
    where = _source_of(key, sources, default)
    if error["type"] == "extra_forbidden":
        return f"unknown config key '{key}' (from {where})"
    value = error.get("input")
    shown = repr(value) if not isinstance(value, dict) else "a table"
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"config key '{key}': {error['msg']} (got {shown}, from {where})"


def load(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cli: Mapping[str, Any] | None = None,
) -> Config:
    """Resolve the configuration. Raises ConfigError naming every offending key."""
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get("SWARMD_CONFIG"):
        config_file = Path(environ["SWARMD_CONFIG"])
    tree: dict[str, Any] = {}
    source = "defaults"
    if config_file is not None:
        tree = read_toml(config_file)
        source = f"config file {config_file}"
    sources: dict[str, str] = {}
    tree = _merge(tree, env_overrides(environ, sources))
    for dotted, value in (cli or {}).items():
        _set_path(tree, dotted, value, "command line")
        sources[dotted] = f"--set {dotted}" if dotted not in CLI_FLAGS else CLI_FLAGS[dotted]
    try:
        return Config.model_validate(tree)
    except ValidationError as e:
        lines = [_describe(err, sources, source) for err in e.errors()]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None


# Command-line flags that set a config key, for naming them in errors.
CLI_FLAGS = {"node.data_dir": "--data-dir", "log.level": "--log-level", "log.format": "--log-format"}


def parse_assignment(text: str) -> tuple[str, Any]:
    """``section.key=value`` from ``--set``; the value is read like an environment value."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected SECTION.KEY=VALUE")
    key, raw = text.split("=", 1)
    return key.strip(), _parse_env_value(raw.strip())
