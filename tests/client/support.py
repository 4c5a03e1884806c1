"""Daemons for the client tests: one full-stack trainer (tiny model, its own coordinator) and
light ones (control plane only), plus a throwaway certificate authority for TLS."""

from __future__ import annotations

import datetime
import ipaddress
import socket
from pathlib import Path

from swarmd import identity
from tests.conftest import REPO

LIGHT = {s: {"enabled": False} for s in ("p2p", "trainer", "swarm", "web")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trainer_config(data_dir: Path) -> dict:
    """A node that coordinates its own rounds and trains the tiny model on them."""
    peer_id = identity.load_or_create(data_dir / "identity.key")[0].peer_id
    return {
        "node": {"swarm_id": "client-test"},
        "web": {"enabled": False},
        "trainer": {
            "model": "tiny",
            "cache_dir": str(REPO / ".cache" / "test-models"),
            "threads": 1,
            "sampling": {"max_new_tokens": 12},
            "grpo": {"learning_rate": 1e-3},
        },
        "swarm": {
            "round_source": "coordinator",
            "coordinators": [peer_id],
            "tasks": "dense",
            "questions_per_round": 2,
            "group_size": 4,
            "stage_timeout_s": 60.0,
            "announce_interval_s": 0.5,
        },
        # Never contacted (the chain is off): shows that GetConfig redacts credentials.
        "chain": {"rpc_url": "https://operator:hunter2@rpc.example.org/v3/0123456789abcdef0123456789abcdef"},
    }


class CA:
    """A throwaway certificate authority that signs server and client certificates."""

    def __init__(self, root: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._x509, self._hashes, self._ser, self._ec, self._oid = x509, hashes, serialization, ec, NameOID
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "swarmd test CA")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_file = self._write("ca.pem", self.cert.public_bytes(serialization.Encoding.PEM))

    def _write(self, name: str, data: bytes, mode: int = 0o644) -> Path:
        path = self.root / name
        path.write_bytes(data)
        path.chmod(mode)
        return path

    def issue(self, name: str, server: bool) -> tuple[Path, Path]:
        """(certificate, key) files for ``name``; a server's is valid for 127.0.0.1 and localhost."""
        x509, ser = self._x509, self._ser
        key = self._ec.generate_private_key(self._ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(self._oid.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        cert = builder.sign(self.key, self._hashes.SHA256())
        cert_file = self._write(f"{name}.pem", cert.public_bytes(ser.Encoding.PEM))
        key_file = self._write(
            f"{name}.key",
            key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()),
            0o600,
        )
        return cert_file, key_file
