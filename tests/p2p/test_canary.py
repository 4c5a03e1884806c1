"""The py-libp2p canary: the installed library has every name the mesh's patches use, and the
check fails loudly when one goes missing or changes shape."""

from __future__ import annotations

import pytest

from swarmd.p2p import canary


def test_the_installed_library_matches_the_patched_surface():
    assert canary.installed_version() == canary.TESTED_VERSION
    assert canary.problems() == []
    canary.verify()  # raises on any mismatch


def test_a_planted_missing_method_is_named(monkeypatch):
    from libp2p.pubsub.pubsub import Pubsub

    monkeypatch.delattr(Pubsub, "_is_msg_seen")
    found = canary.problems()
    assert found == ["libp2p.pubsub.pubsub:Pubsub._is_msg_seen: callable is missing"]
    with pytest.raises(canary.LibraryMismatch, match="_is_msg_seen"):
        canary.verify()


def test_a_planted_missing_attribute_is_named():
    planted = (canary.Field("libp2p.network.swarm:Swarm.auto_connector_renamed"),)
    assert canary.problems(planted) == ["libp2p.network.swarm:Swarm.auto_connector_renamed: attribute is missing"]


def test_a_changed_signature_is_named(monkeypatch):
    from libp2p.network.swarm import Swarm

    async def renamed(self, conn, addr, event):  # the library renamed its parameters
        return None

    monkeypatch.setattr(Swarm, "_do_handle_inbound_connection", renamed)
    (problem,) = canary.problems()
    assert "_do_handle_inbound_connection" in problem and "read_write_closer" in problem


def test_a_missing_module_is_named():
    assert canary.problems((canary.Method("libp2p.no_such_module:f", ()),))[0].startswith(
        "libp2p.no_such_module:f: module libp2p.no_such_module cannot be imported"
    )


def test_another_version_is_refused_with_the_tested_one_named():
    with pytest.raises(canary.LibraryMismatch, match=r"0\.9\.0 is installed.*libp2p==0\.8\.1"):
        canary.verify("0.9.0")


class _Peer:
    def to_base58(self) -> str:
        return "12D3KooWpeer"


class _Conn:
    peer_id = _Peer()


class _Stream:
    muxed_conn = _Conn()

    def __init__(self) -> None:
        self.was_reset = False

    async def reset(self) -> None:
        self.was_reset = True


class _Guard:
    def __init__(self) -> None:
        self.rejected: list[tuple[str, str]] = []

    def reject(self, forwarder: str, reason: str) -> None:
        self.rejected.append((forwarder, reason))


class _ReadLoop:
    """What GuardedPubsub.stream_handler uses of its instance, with a read loop that fails."""

    def __init__(self, failure: Exception) -> None:
        self.guard = _Guard()
        self.dead: list[object] = []
        self._failure = failure

    async def continuously_read_stream(self, stream: object) -> None:
        raise self._failure

    def _handle_dead_peer(self, peer_id: object) -> None:
        self.dead.append(peer_id)


def _run_handler(failure: Exception) -> tuple[_ReadLoop, _Stream]:
    import trio

    from swarmd.p2p.hardening import GuardedPubsub

    loop, stream = _ReadLoop(failure), _Stream()
    trio.run(GuardedPubsub.stream_handler, loop, stream)
    return loop, stream


def test_an_unexpected_read_loop_failure_is_a_counted_warning(caplog):
    caplog.set_level("DEBUG", logger="swarmd.p2p.hardening")
    loop, stream = _run_handler(AttributeError("'Pubsub' object has no attribute 'renamed_member'"))
    assert loop.guard.rejected == [("12D3KooWpeer", "read_loop_error")]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "renamed_member" in warnings[0].getMessage()
    assert stream.was_reset and loop.dead


def test_a_malformed_frame_stays_quiet():
    from swarmd.p2p.hardening import MalformedFrame

    loop, stream = _run_handler(MalformedFrame("pubsub frame is not a protobuf RPC"))
    assert loop.guard.rejected == []  # counted as malformed_rpc where it was found
    assert stream.was_reset and loop.dead
