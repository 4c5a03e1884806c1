"""TLS on the TCP control plane (with and without a client certificate), the refusal of
plaintext TCP off loopback, and swarmctl's option and exit-code conventions on a light daemon."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from swarmd import client as sc
from swarmd.client import TLS, AsyncClient, Client
from tests.client.support import CA, LIGHT, free_port
from tests.support.daemons import SWARMCTL

pytestmark = pytest.mark.process


def test_mutual_tls_with_and_without_a_client_certificate(daemons, short_tmp) -> None:
    ca = CA(short_tmp / "pki")
    server_cert, server_key = ca.issue("daemon", server=True)
    client_cert, client_key = ca.issue("operator", server=False)
    port = free_port()
    d = daemons("tls", config={**LIGHT, "control": {
        "tcp_address": f"127.0.0.1:{port}", "tls_cert_file": str(server_cert), "tls_key_file": str(server_key),
        "tls_client_ca_file": str(ca.cert_file)}})
    token = d.data_dir / "control.token"
    address = f"127.0.0.1:{port}"

    with Client(address=address, token_file=token,
                tls=TLS(ca_file=ca.cert_file, cert_file=client_cert, key_file=client_key)) as c:
        assert c.status().peer_id == d.status().peer_id
        assert c.get_config().get("control.tls_client_ca_file") == str(ca.cert_file)

    # no client certificate: the handshake is refused, nothing reaches the service
    with pytest.raises(sc.Refused, match="TLS handshake .* client certificate"):
        Client(address=address, token_file=token, tls=TLS(ca_file=ca.cert_file), retries=0).status()
    # plaintext against the TLS port
    with pytest.raises(sc.Unreachable, match="does it serve TLS"):
        Client(address=address, token_file=token, retries=0).status()
    # a certificate but no token: still refused by the token check
    with pytest.raises(sc.Refused, match="bearer token"):
        Client(address=address, tls=TLS(ca_file=ca.cert_file, cert_file=client_cert, key_file=client_key)).status()

    # swarmctl with the same material
    base = [*SWARMCTL, "--address", address, "--token-file", str(token), "--tls-ca", str(ca.cert_file)]
    r = subprocess.run([*base, "status", "--json", "--tls-cert", str(client_cert), "--tls-key", str(client_key)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["peer_id"] == d.status().peer_id
    r = subprocess.run([*base, "status"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 4 and "--tls-cert" in r.stderr


def test_tls_without_client_ca_needs_only_the_server_ca(daemons, short_tmp) -> None:
    ca = CA(short_tmp / "pki")
    cert, key = ca.issue("daemon", server=True)
    port = free_port()
    d = daemons("tls1", config={**LIGHT, "control": {
        "tcp_address": f"localhost:{port}", "tls_cert_file": str(cert), "tls_key_file": str(key)}})
    with Client(address=f"localhost:{port}", token_file=d.data_dir / "control.token",
                tls=TLS(ca_file=ca.cert_file)) as c:
        assert c.status().api_version == sc.API_VERSION
    # a CA that did not sign the daemon's certificate
    other = CA(short_tmp / "other")
    with pytest.raises(sc.Refused, match="TLS handshake"):
        Client(address=f"localhost:{port}", token_file=d.data_dir / "control.token",
               tls=TLS(ca_file=other.cert_file), retries=0).status()


def test_plaintext_tcp_off_loopback_is_refused(daemons) -> None:
    d = daemons("open", config={**LIGHT, "control": {"tcp_address": f"0.0.0.0:{free_port()}"}}, start=False)
    d.start(wait=False)
    assert d.wait_exit(60) != 0
    log = d.log()
    assert "not a loopback address and TLS is off" in log and "allow_insecure_tcp" in log


def test_swarmctl_options_after_the_verb_and_exit_codes(daemons, short_tmp) -> None:
    d = daemons("ctl", config=LIGHT)
    sock = str(d.socket)
    for argv in (["status", "--json", "--socket", sock], ["--json", "status", "--socket", sock],
                 ["--socket", sock, "status", "--json"]):
        r = subprocess.run([*SWARMCTL, *argv], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (argv, r.stderr)
        assert json.loads(r.stdout)["state"] == "running"
    # unreachable at once on a refused port, even with a long deadline
    r = subprocess.run([*SWARMCTL, "status", "--address", f"127.0.0.1:{free_port()}", "--timeout", "300"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and "refused" in r.stderr.lower()
    r = subprocess.run([*SWARMCTL, "status", "--socket", str(short_tmp / "gone.sock")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and "no daemon socket" in r.stderr
    # refused: a subsystem this node lacks; usage: bad arguments
    r = subprocess.run([*SWARMCTL, "submit", "99", "--socket", sock], capture_output=True, text=True, timeout=60)
    assert r.returncode == 4 and "refused" in r.stderr
    r = subprocess.run([*SWARMCTL, "status", "--timeout", "-1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    r = subprocess.run([*SWARMCTL, "frobnicate"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    # events replay what happened before the command started
    r = subprocess.run([*SWARMCTL, "events", "--count", "2", "--socket", sock], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "#1 lifecycle" in r.stdout


def test_mesh_rpcs_diagnostics_and_shutdown_through_both_clients(daemons) -> None:
    d = daemons("mesh", config={s: {"enabled": False} for s in ("trainer", "swarm", "web")})
    with Client(d.socket) as c:
        diag = c.diagnostics(log_lines=5)
        assert diag.status.peer_id == d.status().peer_id and len(diag.log_lines) <= 5 and diag.config_toml
        with pytest.raises(sc.NotAvailable, match="swarm.enabled = false"):
            c.advance_round()

    async def main() -> None:
        async with AsyncClient(d.socket) as c:
            assert (await c.diagnostics()).recent_events
            with pytest.raises(sc.NotAvailable, match="swarm.enabled = false"):
                await c.advance_round()
            left = await c.leave()
            assert left.disconnected == 0  # alone: nobody to disconnect
            assert (await c.status()).mesh.mesh_state == sc.pb.MESH_STATE_LEFT
            await c.shutdown()

    asyncio.run(main())
    assert d.wait_exit(60) == 0
    with pytest.raises(sc.Unreachable):
        Client(d.socket, retries=0).status()
