"""Which addresses a node offers, and which of a peer's addresses it keeps (pure, no libp2p).

A listen address on ``0.0.0.0`` or ``::`` is no address anyone can dial: it
is expanded to the host's interface addresses before it is offered, and an
unspecified address received from a peer is never kept. Loopback addresses
only work on the same host, and private ones only on the same network:

- offered (presence, identify, signed peer records): the ``announce``
  addresses if configured; else the listen addresses, expanded, without
  loopback when the node has any other address, plus the addresses peers
  observed for it (their IP with our listen port);
- answered to one peer (the exchange protocol): loopback only to a peer that
  reached us over loopback, private only to one that reached us over a
  private network, unless ``p2p.share_local_addrs``;
- kept from a peer: never unspecified; loopback only while this node itself
  has a connection over loopback; private only while it has one over a
  private or loopback network, unless ``p2p.share_local_addrs``.

Addresses are multiaddr strings; only ``/ip4|ip6/<ip>/tcp/<port>[/p2p/<id>]``
forms are interpreted, anything else is passed over as unknown.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

UNSPECIFIED, LOOPBACK, PRIVATE, PUBLIC = "unspecified", "loopback", "private", "public"


@dataclass(frozen=True)
class TcpAddr:
    ip: str
    port: int
    v6: bool

    def multiaddr(self, peer_id: str = "") -> str:
        tail = f"/p2p/{peer_id}" if peer_id else ""
        return f"/{'ip6' if self.v6 else 'ip4'}/{self.ip}/tcp/{self.port}{tail}"


def parse(addr: str) -> TcpAddr | None:
    """``/ip4/1.2.3.4/tcp/5[/p2p/...]`` → TcpAddr; None for anything else."""
    parts = addr.split("/")
    if len(parts) < 5 or parts[0] != "" or parts[1] not in ("ip4", "ip6") or parts[3] != "tcp":
        return None
    try:
        ip = ipaddress.ip_address(parts[2])
        port = int(parts[4])
    except ValueError:
        return None
    if not 0 <= port <= 65535 or (ip.version == 6) != (parts[1] == "ip6"):
        return None
    return TcpAddr(str(ip), port, ip.version == 6)


def scope_of_ip(ip: str) -> str:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return PUBLIC
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    if a.is_unspecified:
        return UNSPECIFIED
    if a.is_loopback:
        return LOOPBACK
    if a.is_private or a.is_link_local or a in ipaddress.ip_network("100.64.0.0/10"):
        return PRIVATE
    return PUBLIC


def scope(addr: str) -> str:
    """The scope of a multiaddr's IP; ``public`` for forms not interpreted here (e.g. DNS)."""
    t = parse(addr)
    return scope_of_ip(t.ip) if t is not None else PUBLIC


def peer_of(addr: str) -> str:
    return addr.rsplit("/p2p/", 1)[1] if "/p2p/" in addr else ""


def strip_peer(addr: str) -> str:
    return addr.rsplit("/p2p/", 1)[0]


def expand(listen: Iterable[str], interface_ips: Iterable[str]) -> list[str]:
    """Listen addresses with every unspecified IP replaced by the interface addresses of its family."""
    ips = list(dict.fromkeys(interface_ips))
    out: list[str] = []
    for addr in listen:
        t = parse(addr)
        if t is None or scope_of_ip(t.ip) != UNSPECIFIED:
            out.append(strip_peer(addr))
            continue
        for ip in ips:
            v6 = ":" in ip
            if v6 == t.v6 and scope_of_ip(ip) != UNSPECIFIED and not (v6 and ip.lower().startswith("fe80")):
                out.append(TcpAddr(ip, t.port, v6).multiaddr())
    return list(dict.fromkeys(out))


def offered(listen: Iterable[str], interface_ips: Iterable[str], observed: Iterable[str] = ()) -> list[str]:
    """What a node without ``announce`` offers: expanded listen addresses (loopback only when it
    has nothing else) and the observed ones, never an unspecified address."""
    expanded = expand(listen, interface_ips)
    outside = [a for a in expanded if scope(a) != LOOPBACK]
    base = outside or expanded
    extra = [strip_peer(a) for a in observed if scope(a) not in (UNSPECIFIED, LOOPBACK)]
    return [a for a in dict.fromkeys(base + extra) if scope(a) != UNSPECIFIED]


def observed_candidate(observed_ip: str, listen_port_of: dict[bool, int]) -> str | None:
    """A peer saw our connection come from ``observed_ip``: that IP with our listen port."""
    s = scope_of_ip(observed_ip)
    if s in (UNSPECIFIED, LOOPBACK):
        return None
    v6 = ":" in observed_ip
    port = listen_port_of.get(v6)
    if not port:
        return None
    return TcpAddr(observed_ip, port, v6).multiaddr()


def share_with(addrs: Iterable[str], remote_scope: str, share_local: bool = False) -> list[str]:
    """Addresses (ours or other peers') fit to send to a peer whose connection comes from ``remote_scope``."""
    allowed = {PUBLIC}
    if share_local or remote_scope in (PRIVATE, LOOPBACK):
        allowed.add(PRIVATE)
    if remote_scope == LOOPBACK:
        allowed.add(LOOPBACK)
    return [a for a in addrs if scope(a) in allowed]


def keep_from_peer(addrs: Iterable[str], local_scopes: set[str], share_local: bool = False) -> list[str]:
    """A peer's addresses this node may record and dial, given the scopes of its own connections."""
    allowed = {PUBLIC}
    if share_local or local_scopes & {PRIVATE, LOOPBACK}:
        allowed.add(PRIVATE)
    if LOOPBACK in local_scopes:
        allowed.add(LOOPBACK)
    return [a for a in addrs if scope(a) in allowed]


def interface_ips() -> list[str]:
    """This host's interface addresses (IPv4 and IPv6, loopback included)."""
    import socket

    import psutil

    out = []
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                out.append(a.address.split("%", 1)[0])
    return out
