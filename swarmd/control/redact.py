"""The daemon's resolved configuration as JSON, with secrets replaced by a marker.

Paths to key and token files are not secrets (the files are); values that are
secrets, or URLs that carry credentials (user:password@, query strings, long
path tokens such as a hosted RPC's API key), are redacted.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDACTED = "<redacted>"
_SECRET_KEY = re.compile(r"(token|password|secret|private|api_key|apikey)", re.I)
_PATH_KEY = re.compile(r"(_file|_dir|_path)$")
_TOKEN_SEGMENT = re.compile(r"[A-Za-z0-9_-]{20,}")


def redact_url(url: str) -> str:
    """``url`` without credentials; unchanged when it carries none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    path = "/".join(REDACTED if _TOKEN_SEGMENT.fullmatch(seg) else seg for seg in parts.path.split("/"))
    query = REDACTED if parts.query else ""
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def redact(tree: Any, prefix: str = "") -> tuple[Any, list[str]]:
    """A copy of ``tree`` (JSON-like) with secrets redacted, and the dotted keys redacted."""
    redacted: list[str] = []
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            dotted = f"{prefix}{key}"
            if isinstance(value, str) and _SECRET_KEY.search(key) and not _PATH_KEY.search(key):
                out[key] = REDACTED
                redacted.append(dotted)
                continue
            out[key], inner = redact(value, dotted + ".")
            redacted += inner
        return out, redacted
    if isinstance(tree, list):
        items = []
        for i, value in enumerate(tree):
            item, inner = redact(value, f"{prefix}{i}.")
            items.append(item)
            redacted += inner
        return items, redacted
    if isinstance(tree, str) and "://" in tree:
        clean = redact_url(tree)
        if clean != tree:
            redacted.append(prefix.rstrip("."))
        return clean, redacted
    return tree, redacted
