"""A bootnode's dashboard explains its empty panels instead of showing 503s."""

from __future__ import annotations

import pytest

from tests.support.browser import Browser, find_chromium

pytestmark = [pytest.mark.browser, pytest.mark.process]


def test_bootnode_page_points_to_the_trainers(daemons) -> None:
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    d = daemons("boot", config={"node": {"mode": "bootnode"}, "chain": {"enabled": False}})
    url = d.status().dashboard_url
    with Browser() as b:
        b.goto(url)
        b.wait_for("document.getElementById('leaderboard-body').textContent.includes('bootnode')",
                   what="the leaderboard's bootnode note")
        b.wait_for("document.querySelector('#training-panel .unavailable').textContent.includes('bootnode')",
                   what="the training panel's bootnode note")
        assert not b.errors, b.errors  # no failed request (503) in the console
