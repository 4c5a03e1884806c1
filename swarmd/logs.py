"""Structured logging: human-readable lines or JSON lines, on stderr (journald takes it).

Optionally also to a size-rotated file (``[log] file``), and always into a small
in-memory ring of recent lines that ``swarmctl bundle`` collects for bug reports.
"""

from __future__ import annotations

import collections
import json
import logging
import logging.handlers
import os
import sys
import time
from pathlib import Path

_STD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
FILE_MODE = 0o640
RECENT_LINES = 2000


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        ms = int(record.msecs)
        extras = " ".join(
            f"{k}={v}"
            for k, v in record.__dict__.items()
            if k not in _STD_ATTRS and not k.startswith("_")
        )
        line = f"{stamp}.{ms:03d} {record.levelname[0]} {record.name}: {record.getMessage()}"
        if extras:
            line += f" [{extras}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _RotatingFile(logging.handlers.RotatingFileHandler):
    """A rotating log file whose every generation is created with FILE_MODE, whatever the umask."""

    def _open(self):  # type: ignore[override]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        return open(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)


class RecentLines(logging.Handler):
    """The last lines logged, for ``swarmctl bundle`` (the daemon's own view, even without a log file)."""

    def __init__(self, size: int = RECENT_LINES) -> None:
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


RECENT = RecentLines()


def setup(level: str = "info", fmt: str = "human", libp2p_level: str = "warning",
          file: Path | None = None, max_bytes: int = 10 * 1024 * 1024, backups: int = 5) -> None:
    """Configure the root logger. Raises OSError when ``file`` cannot be opened."""
    formatter = JsonFormatter() if fmt == "json" else HumanFormatter()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handlers: list[logging.Handler] = [handler]
    if file is not None:
        from swarmd.paths import make_dir

        make_dir(file.parent)
        rotating = _RotatingFile(file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        rotating.setFormatter(formatter)
        handlers.append(rotating)
    RECENT.setFormatter(HumanFormatter())
    handlers.append(RECENT)
    root = logging.getLogger()
    for old in root.handlers:
        if old not in handlers:
            old.close()
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    # py-libp2p sets propagate=False on its loggers when imported; the mesh
    # re-attaches them (swarmd.p2p) and this sets their level up front.
    logging.getLogger("libp2p").setLevel(libp2p_level.upper())
    for noisy in ("grpc", "asyncio", "urllib3", "web3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
