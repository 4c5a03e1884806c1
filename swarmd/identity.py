"""The node's persistent libp2p identity: an Ed25519 key file and the peer ID it gives.

The key file uses libp2p's own serialization (a protobuf ``PrivateKey`` with an
Ed25519 seed, 36 bytes), so py-libp2p's ``deserialize_private_key`` reads it
and the peer ID computed here equals the one the libp2p host announces. The
daemon computes the peer ID without importing libp2p, which takes over a
second and would delay the control plane.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from swarmd.errors import SwarmdError
from swarmd.names import human_name

# protobuf header of libp2p's PrivateKey/PublicKey: field 1 (KeyType) = 1
# (Ed25519), field 2 (Data) of length 32.
_ED25519_HEADER = b"\x08\x01\x12\x20"
_KEY_FILE_SIZE = len(_ED25519_HEADER) + 32


class IdentityError(SwarmdError):
    """The identity key file is missing, unreadable, malformed or too open."""


@dataclass(frozen=True)
class Identity:
    private_key_bytes: bytes  # libp2p-serialized private key; never log
    public_key_bytes: bytes  # libp2p-serialized public key
    peer_id: str
    name: str

    def __repr__(self) -> str:  # keeps the private key out of logs and tracebacks
        return f"Identity(peer_id={self.peer_id!r}, name={self.name!r})"

    @property
    def peer_id_bytes(self) -> bytes:
        return base58.b58decode(self.peer_id)

    def sign(self, data: bytes) -> bytes:
        key = ed25519.Ed25519PrivateKey.from_private_bytes(self.private_key_bytes[4:])
        return key.sign(data)


def peer_id_from_public_key(public_key_bytes: bytes) -> str:
    """Peer ID of a libp2p-serialized public key (identity multihash, since it is short)."""
    if len(public_key_bytes) <= 42:
        multihash = bytes([0x00, len(public_key_bytes)]) + public_key_bytes
    else:
        multihash = bytes([0x12, 0x20]) + hashlib.sha256(public_key_bytes).digest()
    return base58.b58encode(multihash).decode()


def _from_seed(seed: bytes) -> Identity:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    raw_public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    public = _ED25519_HEADER + raw_public
    peer_id = peer_id_from_public_key(public)
    return Identity(_ED25519_HEADER + seed, public, peer_id, human_name(peer_id))


def generate() -> Identity:
    return _from_seed(os.urandom(32))


def load(path: Path) -> Identity:
    """Load a key file; refuse one that other users can read."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise IdentityError(f"identity key file {path} does not exist") from None
    except OSError as e:
        raise IdentityError(f"identity key file {path} cannot be read: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise IdentityError(f"identity key file {path} is {kind}; node.identity_file must name a key file")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise IdentityError(
            f"identity key file {path} has mode {stat.S_IMODE(st.st_mode):04o}; "
            f"it must be readable by its owner only (chmod 600 {path})"
        )
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IdentityError(f"identity key file {path} cannot be read: {e.strerror}") from None
    if len(data) != _KEY_FILE_SIZE or not data.startswith(_ED25519_HEADER):
        raise IdentityError(
            f"identity key file {path} is not a libp2p Ed25519 private key "
            f"({len(data)} bytes, expected {_KEY_FILE_SIZE})"
        )
    return _from_seed(data[4:])


def save(identity: Identity, path: Path) -> None:
    """Write the key file atomically with mode 0600 (never visible with wider permissions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, identity.private_key_bytes)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_or_create(path: Path) -> tuple[Identity, bool]:
    """The identity at ``path``, created on first start. Returns (identity, created)."""
    if path.exists() or path.is_symlink():
        return load(path), False
    identity = generate()
    try:
        save(identity, path)
    except OSError as e:
        raise IdentityError(f"cannot create identity key file {path}: {e.strerror}") from None
    return identity, True
