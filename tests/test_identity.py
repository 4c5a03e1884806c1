"""Identity: libp2p-compatible key file, stable peer ID and name."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from swarmd import identity
from swarmd.names import ADJECTIVES, ANIMALS, human_name


def test_created_key_is_0600_and_reloads_to_same_peer(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "identity.key"
    first, created = identity.load_or_create(path)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second, created = identity.load_or_create(path)
    assert not created
    assert second.peer_id == first.peer_id and second.name == first.name
    assert first.peer_id.startswith("12D3KooW")


@pytest.mark.process
def test_peer_id_matches_libp2p(tmp_path: Path) -> None:
    from libp2p.crypto.serialization import deserialize_private_key
    from libp2p.peer.id import ID

    ident, _ = identity.load_or_create(tmp_path / "k")
    key = deserialize_private_key((tmp_path / "k").read_bytes())
    assert ID.from_pubkey(key.get_public_key()).to_base58() == ident.peer_id


def test_key_never_in_repr(tmp_path: Path) -> None:
    ident, _ = identity.load_or_create(tmp_path / "k")
    assert ident.private_key_bytes.hex() not in repr(ident)
    assert ident.private_key_bytes.hex() not in str(ident)


def test_world_readable_key_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    identity.load_or_create(path)
    path.chmod(0o644)
    with pytest.raises(identity.IdentityError, match="mode 0644"):
        identity.load(path)


def test_human_name_is_deterministic_and_well_formed() -> None:
    names = {human_name(f"peer-{i}") for i in range(2000)}
    assert human_name("12D3KooWabc") == human_name("12D3KooWabc")
    assert len(names) > 1900  # few collisions
    for name in list(names)[:200]:
        a, b, animal = name.split(" ")
        assert a in ADJECTIVES and b in ADJECTIVES and a != b and animal in ANIMALS
