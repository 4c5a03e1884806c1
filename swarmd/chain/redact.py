"""Credentials out of RPC URLs: wherever an RPC URL or a message about it is shown.

Hosted RPC URLs carry secrets: userinfo (``https://user:pass@host``), an API key as
a path segment (``/v2/KEY``) or a query token (``?apikey=KEY``). ``redact_url``
keeps what identifies the endpoint (scheme, host, port, the short path segments)
and replaces each secret with ``***``. ``secrets_of`` lists those secrets, so text
that may quote the URL (an exception from requests, a log line from a library) is
scrubbed with ``scrub``; ``install_log_scrubber`` does it for every log record of
the process, and the chain subsystem does it for its status, events and errors.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

MASK = "***"
# A path segment that looks like a credential: long, or mixing letters and digits at length.
_KEYLIKE = re.compile(r"[A-Za-z0-9_\-.~=+]{16,}|(?=[A-Za-z_\-]*[0-9])(?=[0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{10,}")


def _secret_segment(segment: str) -> bool:
    return bool(_KEYLIKE.fullmatch(segment))


def redact_url(url: str) -> str:
    """``url`` with userinfo, key-like path segments and query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return MASK  # not parseable: show nothing of it
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{MASK}@" if parts.username is not None or parts.password is not None else "") + host
    if port is not None:
        netloc += f":{port}"
    path = "/".join(MASK if _secret_segment(unquote(s)) else s for s in parts.path.split("/"))
    query = "&".join(f"{quote(k)}={MASK}" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, path, query, ""))


MIN_SCRUB = 6  # shorter values (a query flag "1") would mangle unrelated text


def secrets_of(url: str) -> list[str]:
    """The secret substrings of ``url`` (raw and percent-decoded), longest first.

    Values shorter than MIN_SCRUB characters are left out (``redact_url`` still hides
    them in the URL itself); userinfo is also listed whole (``user:pass``).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found: set[str] = set()
    if parts.username:
        found.add(parts.username)
    if parts.password:
        found.add(parts.password)
    if "@" in parts.netloc:
        found.add(parts.netloc.rsplit("@", 1)[0])
    found.update(s for s in parts.path.split("/") if _secret_segment(unquote(s)))
    found.update(v for _, v in parse_qsl(parts.query, keep_blank_values=False) if v)
    if parts.fragment:
        found.add(parts.fragment)
    found |= {unquote(s) for s in found}
    return sorted((s for s in found if len(s) >= MIN_SCRUB), key=len, reverse=True)


def scrub(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


_registered: tuple[str, ...] = ()
_lock = threading.Lock()
_installed = False


def register_secrets(secrets: list[str]) -> None:
    """Add secrets that every later log record of this process is scrubbed of."""
    global _registered
    with _lock:
        _registered = tuple(sorted(set(_registered) | {s for s in secrets if s}, key=len, reverse=True))
    install_log_scrubber()


def install_log_scrubber() -> None:
    """Scrub registered secrets from every log record (message, arguments, traceback) once made."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        secrets = _registered
        if not secrets:
            return record
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
            return record
        clean = scrub(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(formatter.formatException(record.exc_info), secrets)
        return record

    logging.setLogRecordFactory(factory)
