"""The dashboard in headless Chromium: identity, panels, search, charts and live updates without reload."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from swarmd import identity
from swarmd._pb.swarm.v1 import control_pb2 as pb
from tests.support.browser import Browser
from tests.web.recorded import InProcessWeb, RecordedMesh, RecordedSwarm, RecordedTrainer

pytestmark = [pytest.mark.process, pytest.mark.browser]

# Conditions evaluated in the page.
ROWS = "document.querySelectorAll('#{0} tr').length"
FEED_HAS = ("[...document.querySelectorAll('#feed li')].some(li => li.dataset.type === {0} "
            "&& li.textContent.includes({1}))")


def js_errors(b: Browser) -> list[str]:
    # 503 answers of absent parts are expected network "errors"; script errors are not.
    return [e for e in b.errors if not e.startswith("network:")]


def test_page_shows_identity_and_live_events_without_reload(web_node, browser, screenshots) -> None:
    d, url = web_node
    status = d.status()
    b = browser
    b.goto(url)
    b.wait_for(f"document.getElementById('node-name').textContent === {json.dumps(status.name)}",
               what="the node's name")
    assert b.text("#peer-id") == status.peer_id
    assert b.text("#version") == status.version
    assert b.text("#state") == "running"
    b.wait_for("window.swarmdDashboard.connected", what="the event stream")
    b.wait_for(FEED_HAS.format('"lifecycle"', '"ready"'), what="the replayed ready event")
    # Absent parts say so instead of showing empty panels.
    b.wait_for("!document.querySelector('#peers-panel .unavailable').hidden", what="peers: not available")
    assert "p2p.enabled = false" in b.text("#peers-panel .unavailable")
    assert "swarm.enabled = false" in b.text("#leaderboard-panel .unavailable")
    assert "trainer.enabled = false" in b.text("#training-panel .unavailable")
    b.screenshot(screenshots / "dashboard-single-node.png")

    b.evaluate("window.__sameDocument = true")
    before = b.evaluate("window.swarmdDashboard.eventsReceived")
    d.call("Shutdown", pb.ShutdownRequest())  # a live event: the daemon announces stopping
    b.wait_for(FEED_HAS.format('"lifecycle"', '"stopping"'), what="the live stopping event")
    assert b.evaluate("window.__sameDocument") is True  # arrived without a reload
    assert b.evaluate("window.swarmdDashboard.eventsReceived") > before
    b.wait_for("document.getElementById('state').textContent === 'stopping'", what="state: stopping")
    b.wait_for("['reconnecting', 'down'].includes(document.getElementById('connection').textContent)",
               what="the feed noticing the daemon left")
    b.screenshot(screenshots / "dashboard-single-node-stopping.png")
    assert js_errors(b) == []


# -- the page against recorded swarm data (the real server, recorded sources) --------------


@pytest.fixture
def recorded(short_tmp) -> Iterator[tuple[InProcessWeb, dict]]:
    web = InProcessWeb(short_tmp / "node")
    me = web.daemon.identity
    others = [identity.generate() for _ in range(3)]
    names = {me.peer_id: me.name, **{o.peer_id: o.name for o in others}}
    # A peer-supplied name must render as text, never as markup.
    hostile = others[2].peer_id
    names[hostile] = '<img src=x onerror="window.__pwned=1">'
    swarm = RecordedSwarm(me.peer_id, names)
    for rnd in range(1, 4):
        swarm.add_round(rnd, own=0.2 * rnd, winners=[others[0].peer_id],
                        rewards={others[0].peer_id: 0.3 * rnd, others[1].peer_id: 0.1 * rnd,
                                 hostile: 0.05})
    swarm.chain[others[0].peer_id] = (12, 2)
    trainer = RecordedTrainer()
    for step in range(1, 11):
        trainer.points.append({"step": step, "round": (step + 2) // 3, "reward_mean": 0.1 * step,
                               "loss": float("nan") if step == 5 else 1.0 / step, "kl": 0.01 * step,
                               "tokens_per_s": 100.0 + step, "step_s": 2.0})
    mesh = RecordedMesh(me.peer_id, [
        pb.Peer(peer_id=others[0].peer_id, name=others[0].name, connected=True, liveness="live",
                last_seen_s_ago=1.2, rtt_ms=3.0, round=3),
        pb.Peer(peer_id=others[1].peer_id, name=others[1].name, connected=False, liveness="stale",
                last_seen_s_ago=95.0, round=2),
    ])
    web.daemon.swarm, web.daemon.trainer, web.daemon.mesh = swarm, trainer, mesh
    url = web.start()
    try:
        yield web, {"url": url, "me": me, "others": others, "swarm": swarm, "trainer": trainer}
    finally:
        web.stop()


def test_panels_search_and_a_new_round_without_reload(recorded, browser, screenshots) -> None:
    web, ctx = recorded
    me, others, swarm = ctx["me"], ctx["others"], ctx["swarm"]
    b = browser
    b.goto(ctx["url"])
    b.wait_for(f"{ROWS.format('leaderboard-body')} === 4", what="four leaderboard rows")
    b.wait_for(f"{ROWS.format('peers-body')} === 2", what="two peers")
    assert b.text("#round") == "3"
    assert b.evaluate("document.querySelector('#peers-body tr').textContent").startswith(others[0].name)
    # Chain totals are shown beside the local view when a peer has them.
    assert not b.evaluate("document.getElementById('leaderboard-panel').classList.contains('hide-chain')")
    # Reward chart: one series per peer plus this node's, over three rounds.
    b.wait_for("document.querySelector('#reward-chart svg').dataset.rounds === '3'", what="chart of 3 rounds")
    assert b.evaluate("document.querySelector('#reward-chart svg').dataset.series") == "4"
    assert b.evaluate("document.querySelectorAll('#reward-chart .legend span').length") == 4
    # Training curves: ten steps, the NaN loss is a gap, not a crash.
    b.wait_for("document.querySelector('#chart-reward svg') && "
               "document.querySelector('#chart-reward svg').dataset.points === '10'", what="training curve")
    assert b.evaluate("document.querySelector('#chart-loss svg').dataset.points") == "9"
    # Values apart only by rounding error (rewards such as 1/3 summed two ways) get a few ticks
    # around them; stepping through their difference never advanced and filled memory.
    for lo, hi in ((0.3333333333333333, 0.33333333333333337), (0.3, 0.30000000000000004), (1e17, 1e17 + 16)):
        ticks = b.evaluate(f"SwarmChart.niceTicks({lo!r}, {hi!r}, 4, false)")
        assert 2 <= len(ticks) <= 10 and ticks[0] <= lo and ticks[-1] >= hi, (lo, hi, ticks)
    # The hostile name is text.
    assert b.evaluate("window.__pwned") is None
    assert b.evaluate("document.querySelectorAll('#leaderboard-body img, #reward-chart img').length") == 0
    assert '<img src=x' in b.text("#leaderboard-body")
    b.screenshot(screenshots / "dashboard-recorded.png")

    # Search by a fragment of a name, then of a peer ID, then something absent.
    fragment = others[1].name.split()[-1]
    b.type_into("#lb-search", fragment)
    b.wait_for(f"[...document.querySelectorAll('#leaderboard-body tr')].every(tr => "
               f"tr.textContent.includes({json.dumps(fragment)}))", what="name search")
    b.type_into("#lb-search", others[0].peer_id[-10:])
    b.wait_for(f"{ROWS.format('leaderboard-body')} === 1 && document.querySelector("
               f"'#leaderboard-body tr').dataset.peerId === {json.dumps(others[0].peer_id)}",
               what="peer ID search")
    b.type_into("#lb-search", "zzz-nobody")
    b.wait_for("document.getElementById('leaderboard-body').textContent.includes('no peer matches')",
               what="empty search result")
    b.type_into("#lb-search", "")
    b.wait_for(f"{ROWS.format('leaderboard-body')} === 4", what="search cleared")

    # A new round arrives: the page follows without a reload.
    b.evaluate("window.__sameDocument = true")

    def finish_round_4() -> None:
        swarm.add_round(4, own=0.95, winners=[me.peer_id],
                        rewards={others[0].peer_id: 0.5, others[1].peer_id: 0.4})
        web.daemon.events.emit(pb.EVENT_KIND_ROUND, "round 4 done: reward 0.950", round=pb.RoundEvent(
            round=4, phase="done", reward=0.95, local_groups=4, external_groups=4, winners=[me.peer_id]))
        web.daemon.events.emit(pb.EVENT_KIND_REJECTION, "dropped a batch: bad signature",
                               rejection=pb.RejectionEvent(peer_id=others[1].peer_id, reason="signature"))

    web.call(finish_round_4)
    b.wait_for("document.getElementById('round').textContent === '4'", what="round 4 in the status block")
    b.wait_for("document.querySelector('#reward-chart svg').dataset.lastRound === '4'", what="round 4 in the chart")
    b.wait_for("document.querySelector('#rounds-body tr').dataset.round === '4'", what="round 4 in the table")
    b.wait_for(FEED_HAS.format('"round"', '"round 4 done"'), what="the round event in the feed")
    b.wait_for(FEED_HAS.format('"rejection"', '"bad signature"'), what="the rejection in the feed")
    b.wait_for("document.querySelector('#leaderboard-body tr.self') && "
               "document.querySelector('#leaderboard-body tr.self').children[3].textContent === '4'",
               what="this node's fourth round on the leaderboard")
    assert b.evaluate("window.__sameDocument") is True
    b.screenshot(screenshots / "dashboard-recorded-round4.png")
    assert js_errors(b) == []


def test_healthz_follows_the_trainer_worker(recorded) -> None:
    from tests.web.http import request

    web, ctx = recorded
    url, trainer = ctx["url"], ctx["trainer"]
    assert request(url, "/healthz").status == 200
    web.call(lambda: setattr(trainer, "worker_alive", False))
    r = request(url, "/healthz")
    assert r.status == 503
    assert r.json()["reasons"] == ["trainer: the trainer worker is down"]
    assert request(url, "/healthz?probe=live").status == 200
    web.call(lambda: setattr(trainer, "worker_alive", True))
    assert request(url, "/healthz").status == 200
