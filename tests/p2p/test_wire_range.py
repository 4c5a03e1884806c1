"""Envelope versions: a node accepts the range it announces, so mixed releases share a swarm."""

from __future__ import annotations

from swarmd._pb.swarm.v1 import p2p_pb2
from swarmd.p2p import codec
from tests.p2p.test_units import check, env


def _with_version(version: int) -> bytes:
    e = p2p_pb2.Envelope()
    e.ParseFromString(env())
    e.version = version
    return e.SerializeToString()


def test_every_version_in_the_accepted_range_passes(monkeypatch) -> None:
    # A release that reads version 2 but still writes 1: both pass, 0 and 3 do not.
    monkeypatch.setattr(codec, "WIRE_VERSION_MAX", 2)
    assert codec.WIRE_VERSION == 1
    assert check(_with_version(1)).reason is None
    assert check(_with_version(2)).reason is None
    for bad in (0, 3):
        rejected = check(_with_version(bad))
        assert rejected.reason == "bad_version" and "accepted 1..2" in rejected.detail


def test_this_release_writes_a_version_it_accepts() -> None:
    assert codec.WIRE_VERSION_MIN <= codec.WIRE_VERSION <= codec.WIRE_VERSION_MAX
    assert check(env()).reason is None
