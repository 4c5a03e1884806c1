"""Addresses, per-address dialing memory and the library's log rate limit, without a network."""

from __future__ import annotations

import functools
import logging

import pytest
import trio

from swarmd.config import ConfigError, load
from swarmd.p2p import addrs, streams
from swarmd.p2p.dialer import AddrBook
from swarmd.p2p.loghygiene import LogRateLimiter, RateLimitedHandler, reason_of

PID = "12D3KooWExample"


def test_scope_of_addresses():
    assert addrs.scope("/ip4/0.0.0.0/tcp/4001") == addrs.UNSPECIFIED
    assert addrs.scope("/ip6/::/tcp/4001") == addrs.UNSPECIFIED
    assert addrs.scope("/ip4/127.0.0.1/tcp/1/p2p/x") == addrs.LOOPBACK
    assert addrs.scope("/ip6/::1/tcp/1") == addrs.LOOPBACK
    for private in ("10.1.2.3", "192.168.1.1", "172.16.0.9", "100.64.1.1", "169.254.0.1"):
        assert addrs.scope(f"/ip4/{private}/tcp/1") == addrs.PRIVATE, private
    assert addrs.scope("/ip4/8.8.8.8/tcp/1") == addrs.PUBLIC
    assert addrs.scope("/dns4/example.org/tcp/1") == addrs.PUBLIC  # not interpreted
    assert addrs.parse("/ip4/1.2.3.4/udp/5") is None and addrs.parse("/ip4/1.2.3/tcp/5") is None


def test_unspecified_listen_expands_to_interfaces_and_is_never_offered():
    ifaces = ["127.0.0.1", "10.77.0.1", "::1", "fe80::1", "2001:db8::5"]
    listen = ["/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4002"]
    assert addrs.expand(listen, ifaces) == [
        "/ip4/127.0.0.1/tcp/4001", "/ip4/10.77.0.1/tcp/4001", "/ip6/::1/tcp/4002", "/ip6/2001:db8::5/tcp/4002",
    ]
    offered = addrs.offered(listen, ifaces)
    assert offered == ["/ip4/10.77.0.1/tcp/4001", "/ip6/2001:db8::5/tcp/4002"]  # loopback left out
    # A host with only loopback still offers it (local swarms), never 0.0.0.0.
    assert addrs.offered(["/ip4/0.0.0.0/tcp/1"], ["127.0.0.1"]) == ["/ip4/127.0.0.1/tcp/1"]
    assert addrs.offered(["/ip4/0.0.0.0/tcp/1"], []) == []
    # Observed addresses join, unless unspecified or loopback.
    assert addrs.offered(["/ip4/10.0.0.2/tcp/1"], [], ["/ip4/198.51.100.4/tcp/1", "/ip4/0.0.0.0/tcp/1"]) == [
        "/ip4/10.0.0.2/tcp/1", "/ip4/198.51.100.4/tcp/1",
    ]


def test_observed_ip_pairs_with_the_wildcard_listen_port():
    assert addrs.observed_candidate("198.51.100.4", {False: 4001}) == "/ip4/198.51.100.4/tcp/4001"
    assert addrs.observed_candidate("198.51.100.4", {}) is None  # no wildcard listen: nothing to offer
    assert addrs.observed_candidate("127.0.0.1", {False: 4001}) is None


def test_what_is_shared_with_and_kept_from_peers():
    mixed = ["/ip4/127.0.0.1/tcp/1", "/ip4/10.0.0.2/tcp/1", "/ip4/8.8.8.8/tcp/1", "/ip4/0.0.0.0/tcp/1"]
    assert addrs.share_with(mixed, addrs.PUBLIC) == ["/ip4/8.8.8.8/tcp/1"]
    assert addrs.share_with(mixed, addrs.PUBLIC, share_local=True) == ["/ip4/10.0.0.2/tcp/1", "/ip4/8.8.8.8/tcp/1"]
    assert addrs.share_with(mixed, addrs.PRIVATE) == ["/ip4/10.0.0.2/tcp/1", "/ip4/8.8.8.8/tcp/1"]
    assert addrs.share_with(mixed, addrs.LOOPBACK) == mixed[:3]
    assert addrs.keep_from_peer(mixed, {addrs.PUBLIC}) == ["/ip4/8.8.8.8/tcp/1"]
    assert addrs.keep_from_peer(mixed, {addrs.PRIVATE}) == ["/ip4/10.0.0.2/tcp/1", "/ip4/8.8.8.8/tcp/1"]
    assert addrs.keep_from_peer(mixed, {addrs.LOOPBACK}) == mixed[:3]
    assert addrs.keep_from_peer(mixed, set()) == ["/ip4/8.8.8.8/tcp/1"]


def test_announce_refuses_an_unspecified_address(tmp_path):
    with pytest.raises(ConfigError, match="unspecified"):
        load(None, cli={"node.data_dir": str(tmp_path), "p2p.announce": ["/ip4/0.0.0.0/tcp/4001"]})


def test_addr_book_tries_what_worked_first_and_backs_off_per_address():
    book = AddrBook(1.0, 8.0)
    book.merge([f"/ip4/10.0.0.1/tcp/1/p2p/{PID}", "/ip4/10.0.0.2/tcp/1", "/ip4/10.0.0.3/tcp/1"])
    assert book.due(0.0) == ["/ip4/10.0.0.1/tcp/1", "/ip4/10.0.0.2/tcp/1", "/ip4/10.0.0.3/tcp/1"]
    book.failed("/ip4/10.0.0.1/tcp/1", 0.0, "refused")
    book.worked("/ip4/10.0.0.3/tcp/1", 0.0)
    assert book.due(0.5) == ["/ip4/10.0.0.3/tcp/1", "/ip4/10.0.0.2/tcp/1"]  # the failed one waits
    assert book.due(2.0)[-1] == "/ip4/10.0.0.1/tcp/1" and book.any_due(2.0)
    for _ in range(10):
        book.failed("/ip4/10.0.0.2/tcp/1", 0.0, "timed out")
    assert book.addrs["/ip4/10.0.0.2/tcp/1"].backoff.delay == 8.0  # capped
    book.reset()
    assert len(book.due(0.0)) == 3
    book.merge([f"/ip4/10.0.1.{i}/tcp/1" for i in range(40)])
    assert len(book.addrs) == 16 and "/ip4/10.0.0.3/tcp/1" in book.addrs  # what worked is kept


def test_library_log_rate_limit_summarises_once_per_reason_per_minute():
    now = [0.0]
    rl = LogRateLimiter(3, clock=lambda: now[0])
    assert [rl.allow("libp2p.x", logging.ERROR, "Failed %s", f"Failed {i}") for i in range(5)] == [
        True, True, True, False, False,
    ]
    assert rl.allow("libp2p.y", logging.ERROR, "Other", "Other")  # another reason has its own budget
    assert rl.roll() == []
    now[0] = 61.0
    assert rl.roll() == [("libp2p.x", logging.ERROR, "Failed %s", 2, "Failed 3")]
    assert rl.allow("libp2p.x", logging.ERROR, "Failed %s", "Failed 9")  # a new minute


def test_library_log_handler_passes_budget_then_one_summary(caplog):
    target = logging.getLogger("swarmd.test.libp2p-target")
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    target.handlers[:] = [Keep()]
    handler = RateLimitedHandler(per_minute=2, target=target)
    lib = logging.getLogger("libp2p.test.flood")
    lib.handlers[:] = [handler]
    lib.propagate = False
    for i in range(1000):  # the library formats its messages itself: one reason all the same
        lib.error(f"Failed to open stream to peer 12D3KooWPeer{i:040d}xyz:\n  Error: at /ip4/10.0.0.{i % 250}/tcp/1")
    assert len(seen) == 2
    handler.limiter.clock = lambda: 1e12  # a minute later
    handler.flush_summaries()
    assert len(seen) == 3 and "suppressed 998 more" in seen[-1].getMessage()
    assert reason_of("dial 12D3KooWAbcdefghijkmnopqrstuvwxyz1234 at /ip4/1.2.3.4/tcp/5 took 0.25s\nmore") == \
        "dial # at # took #s"


def test_probe_tells_a_libp2p_listener_from_nothing_and_from_something_else():
    async def main():
        async def libp2p_like(stream):
            await stream.send_all(streams.MULTISTREAM_HEADER)
            await trio.sleep(0.2)

        async def other(stream):
            await stream.send_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        async with trio.open_nursery() as n:
            serve = functools.partial(trio.serve_tcp, host="127.0.0.1")
            good = (await n.start(serve, libp2p_like, 0))[0].socket.getsockname()[1]
            bad = (await n.start(serve, other, 0))[0].socket.getsockname()[1]
            assert await streams.probe(f"/ip4/127.0.0.1/tcp/{good}", 2) is None
            assert await streams.probe(f"/ip4/127.0.0.1/tcp/{bad}", 2) == "something else answers there"
            closed = await streams.probe("/ip4/127.0.0.1/tcp/1", 2)
            assert closed is not None and "refused" in closed.lower()
            n.cancel_scope.cancel()

    trio.run(main)
