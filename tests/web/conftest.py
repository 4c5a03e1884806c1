"""Fixtures for the web tests: a bare daemon (web only) and a headless browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import Browser, find_chromium

# Everything but the control plane and the web server off: these tests are
# about the web layer, and must not load a model or open a mesh.
BARE = {
    "web": {"port": 0},
    "p2p": {"enabled": False},
    "trainer": {"enabled": False},
    "swarm": {"enabled": False},
    "chain": {"enabled": False},
}

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "out" / "screenshots"


def bare(**sections: dict) -> dict:
    config = {k: dict(v) for k, v in BARE.items()}
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    return config


@pytest.fixture
def web_node(daemons):
    """A started daemon with only control and web, and its dashboard URL."""
    d = daemons("web", config=bare())
    url = d.status().dashboard_url
    assert url.startswith("http://127.0.0.1:"), url
    return d, url


@pytest.fixture
def browser() -> Iterator[Browser]:
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    with Browser() as b:
        yield b


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
