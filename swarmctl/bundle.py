"""``swarmctl bundle [PATH]``: one tarball for a bug report.

Contents: the daemon's configuration (credentials redacted), status, peers,
leaderboard, recent events and log lines (and the end of the log file when
``log.file`` is set), versions and host facts of both the daemon and this
client, and a README saying what is inside. Never a key, a token or a
credential: the daemon redacts what it sends (``swarmd.diagnostics``), and
nothing here reads a file of the data directory.

Only the standard library is imported until the verb runs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tarfile
import time

README = """\
swarmd bug-report bundle, written by `swarmctl bundle` at {when}.

  config.toml        the daemon's resolved configuration; credentials (RPC URL paths and
                     user info, tokens, passwords) replaced by <redacted>
  status.json        GetStatus
  peers.json         ListPeers (every known peer, stale ones too)
  leaderboard.json   GetLeaderboard
  events.jsonl       the daemon's most recent events, oldest first
  logs/daemon.log    the daemon's most recent log lines
  logs/file-tail.log the end of the log file (log.file), when one is configured
  versions.json      daemon and swarmctl versions, Python and library versions
  system.json        host facts: OS, kernel, CPUs, memory, free disk, load
  errors.txt         what could not be collected, if anything

No key files, control tokens or chain credentials are included.
"""


def register(verb) -> None:
    """Add the verb through swarmctl's ``verb(name, help)`` (which adds the global options)."""
    p = verb("bundle", "write a tarball for a bug report (no keys or credentials)")
    p.add_argument("path", nargs="?", default="",
                   help="output file (default: ./swarmd-bundle-<time>.tar.gz)")
    p.set_defaults(handler=run)


def _json(message) -> str:
    from google.protobuf import json_format

    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=1, sort_keys=True) + "\n"


def _add(tar: tarfile.TarFile, name: str, text: str, mtime: float) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o644
    tar.addfile(info, io.BytesIO(data))


def run(c, args: argparse.Namespace) -> int:
    """``c`` is a swarmd.client.Client."""
    from swarmd.client import ControlError

    now = time.time()
    path = args.path or f"swarmd-bundle-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))}.tar.gz"
    path = os.path.abspath(path)
    diag = c.diagnostics(timeout=args.timeout)  # unreachable/refused: swarmctl's exit codes
    files: dict[str, str] = {"README.txt": README.format(when=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)))}
    errors: list[str] = []
    files["status.json"] = _json(diag.status)
    for name, method, call in (
        ("peers.json", "ListPeers", lambda: c.peers(include_stale=True, timeout=args.timeout)),
        ("leaderboard.json", "GetLeaderboard", lambda: c.leaderboard(timeout=args.timeout)),
    ):
        try:
            files[name] = _json(call())
        except ControlError as e:  # a disabled part is noted, the rest is still collected
            errors.append(f"{method}: {e}")
    files["config.toml"] = diag.config_toml
    files["events.jsonl"] = "".join(_json(e).replace("\n", "") + "\n" for e in diag.recent_events)
    files["logs/daemon.log"] = "\n".join(diag.log_lines) + "\n"
    if diag.log_file_tail:
        files["logs/file-tail.log"] = diag.log_file_tail
    from swarmd import __version__

    files["versions.json"] = json.dumps({
        "daemon": dict(sorted(diag.versions.items())),
        "swarmctl": {"swarmd": __version__, "python": sys.version.split()[0]},
    }, indent=1) + "\n"
    files["system.json"] = json.dumps({
        "daemon_host": dict(sorted(diag.system.items())),
        "swarmctl_host": {"os": platform.platform(), "python_executable": sys.executable},
    }, indent=1) + "\n"
    if errors:
        files["errors.txt"] = "\n".join(errors) + "\n"

    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            top = os.path.basename(path).removesuffix(".tar.gz").removesuffix(".tgz")
            for name, text in files.items():
                _add(tar, f"{top}/{name}", text, now)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    size = os.path.getsize(path)
    if args.json:
        print(json.dumps({"path": path, "files": sorted(files), "bytes": size, "errors": errors}))
    else:
        print(f"wrote {path} ({len(files)} files, {size / 1024:.0f} KiB; no keys or credentials)")
        for e in errors:
            print(f"  not collected: {e}")
    return 0
