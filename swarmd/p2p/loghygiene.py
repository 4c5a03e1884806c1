"""py-libp2p's own loggers, rate-limited: a hostile peer must not be able to fill a disk.

Every record of the ``libp2p`` logger tree goes through ``RateLimitedHandler``.
Records are grouped by reason (logger, level and the message's first line
with peer IDs, addresses and numbers masked: the library formats its
messages itself, so the format string alone would make every peer a reason
of its own); each reason passes ``per_minute`` records a minute, the
rest are counted (``swarmd_p2p_library_log_suppressed_total{logger}``) and
summarised in one line per reason per minute. Pure apart from the handler's
target (the root logger's handlers).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 60.0
_VARIABLE = re.compile(r"(12D3KooW|Qm)[1-9A-HJ-NP-Za-km-z]{20,}|/ip[46]/[^\s,'\"]+|0x[0-9a-fA-F]+|\d+(\.\d+)*")


def reason_of(message: str) -> str:
    """What identifies a kind of message: its first line, variable parts masked."""
    first = message.split("\n", 1)[0]
    return _VARIABLE.sub("#", first)[:160]
MAX_REASONS = 256  # reasons tracked per window; beyond it, one catch-all reason


@dataclass
class _Window:
    started: float
    passed: int = 0
    suppressed: int = 0
    example: str = ""


class LogRateLimiter:
    """Per-reason budget per minute; ``roll`` returns the summaries of windows that ended."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.windows: dict[tuple[str, int, str], _Window] = {}
        self.suppressed_total = 0

    def allow(self, logger: str, level: int, template: str, example: str) -> bool:
        now = self.clock()
        key = (logger, level, template[:200])
        if key not in self.windows and len(self.windows) >= MAX_REASONS:
            key = ("libp2p", logging.WARNING, "(other messages)")
        w = self.windows.get(key)
        if w is None:
            w = self.windows[key] = _Window(now)
        if w.passed < self.per_minute:
            w.passed += 1
            return True
        w.suppressed += 1
        self.suppressed_total += 1
        if not w.example:
            w.example = example[:300]
        return False

    def roll(self, force: bool = False) -> list[tuple[str, int, str, int, str]]:
        """(logger, level, template, suppressed, example) for each window over a minute old."""
        now = self.clock()
        out = []
        for key, w in list(self.windows.items()):
            if force or now - w.started >= WINDOW_S:
                del self.windows[key]
                if w.suppressed:
                    out.append((*key, w.suppressed, w.example))
        return out


class RateLimitedHandler(logging.Handler):
    """Passes records to ``target`` (the root logger) within each reason's budget."""

    def __init__(self, per_minute: int = 10, target: logging.Logger | None = None,
                 on_suppressed: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.limiter = LogRateLimiter(per_minute)
        self.target = target or logging.getLogger()
        self.on_suppressed = on_suppressed
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self._lock2:
                summaries = self.limiter.roll()
                message = record.getMessage()
                ok = self.limiter.allow(record.name, record.levelno, reason_of(message), message)
            for name, level, template, n, example in summaries:
                self._summary(name, level, template, n, example)
            if ok:
                self.target.handle(record)
            elif self.on_suppressed is not None:
                self.on_suppressed(record.name)
        except Exception:  # noqa: BLE001 - logging must never raise into the library
            self.handleError(record)

    def flush_summaries(self) -> None:
        with self._lock2:
            summaries = self.limiter.roll()
        for s in summaries:
            self._summary(*s)

    def _summary(self, name: str, level: int, template: str, n: int, example: str) -> None:
        rec = logging.LogRecord(
            name, max(level, logging.WARNING), __file__, 0,
            "suppressed %d more %s messages like %r in the last minute (latest: %s)",
            (n, logging.getLevelName(level), template[:120], example[:200]), None,
        )
        self.target.handle(rec)


def install(level: str, per_minute: int = 10) -> RateLimitedHandler:
    """Route the whole ``libp2p`` logger tree through one rate-limited handler."""
    from swarmd.p2p import metrics as m

    root = logging.getLogger("libp2p")
    for h in list(root.handlers):
        if isinstance(h, RateLimitedHandler):
            return h
    handler = RateLimitedHandler(per_minute, on_suppressed=lambda name: m.LIBRARY_LOG_SUPPRESSED.labels(
        ".".join(name.split(".")[:2])).inc())
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("libp2p.")]:
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(level.upper())
    return handler
