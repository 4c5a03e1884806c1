"""A user-space link emulator between pairs of interfaces: delay ± jitter and loss.

This kernel has no ``sch_netem``; ``tbf`` works for bandwidth, but delay and
loss need this. It runs inside the harness's bridge namespace and joins each
pair of interfaces (``inner``: the veth towards a host, ``outer``: the veth
on the bridge) with AF_PACKET sockets, forwarding every frame in both
directions. Frames from the host (its egress) wait ``delay ± jitter`` and
are dropped with probability ``loss``, like netem on the host's interface;
frames towards the host pass at once. Jitter does not reorder a link's
frames (each leaves no earlier than the one before it).

    python -m tests.multihost.forwarder run --link INNER:OUTER[,INNER:OUTER...] \\
        --delay-ms 100 --jitter-ms 20 --loss 0.01 [--seed 1] [--stats FILE]
    python -m tests.multihost.forwarder offload IFACE...   # segmentation/checksum offloads off

Offloads must be off on every veth whose frames pass through here: with them
a frame can be a 64 KiB TCP super-segment or carry a checksum left for the
hardware, and neither survives being re-sent as raw bytes.
"""

from __future__ import annotations

import argparse
import array
import fcntl
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SIOCETHTOOL = 0x8946
# Legacy ethtool "set" commands: rx/tx checksum, scatter-gather, TSO, GSO, GRO.
ETHTOOL_SET = {"rx": 0x15, "tx": 0x17, "sg": 0x19, "tso": 0x1F, "gso": 0x24, "gro": 0x2C}


def offloads_off(ifname: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for name in ("tso", "gso", "gro", "tx", "sg", "rx"):
            value = array.array("B", struct.pack("II", ETHTOOL_SET[name], 0))
            addr, _ = value.buffer_info()
            ifr = struct.pack("16sP", ifname.encode(), addr)
            try:
                fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
            except OSError as e:
                if name in ("tso", "tx"):  # the ones that matter
                    raise OSError(f"turning {name} offload off on {ifname} failed: {e}") from None


def _open(ifname: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


class Link:
    def __init__(self, inner: str, outer: str) -> None:
        self.inner_name, self.outer_name = inner, outer
        self.inner = _open(inner)
        self.outer = _open(outer)
        self.last_out = 0.0  # when the last delayed frame leaves (no reordering)
        self.frames = {"egress": 0, "ingress": 0, "lost": 0, "errors": 0}


def run(links: list[Link], delay: float, jitter: float, loss: float, rng: random.Random,
        stats_path: str | None) -> None:
    by_fd: dict[int, tuple[Link, bool]] = {}
    for link in links:
        by_fd[link.inner.fileno()] = (link, True)
        by_fd[link.outer.fileno()] = (link, False)
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    queue: list[tuple[float, int, Link, bytes]] = []  # (due, seq, link, frame) towards the bridge
    seq = 0
    stop = False
    last_stats = 0.0

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    while not stop:
        now = time.monotonic()
        timeout_ms = 200 if not queue else max(0, int((queue[0][0] - now) * 1000))
        for fd, _ in poller.poll(timeout_ms):
            link, from_host = by_fd[fd]
            sock = link.inner if from_host else link.outer
            for _ in range(256):  # drain what is there
                try:
                    frame, addr = sock.recvfrom(65536)
                except BlockingIOError:
                    break
                if addr[2] == socket.PACKET_OUTGOING:
                    continue  # our own sends, seen on the way out
                if from_host:
                    link.frames["egress"] += 1
                    if rng.random() < loss:
                        link.frames["lost"] += 1
                        continue
                    due = max(time.monotonic() + delay + rng.uniform(-jitter, jitter), link.last_out)
                    link.last_out = due
                    seq += 1
                    heapq.heappush(queue, (due, seq, link, frame))
                else:
                    link.frames["ingress"] += 1
                    _send(link, link.inner, frame)
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, link, frame = heapq.heappop(queue)
            _send(link, link.outer, frame)
        if stats_path and now - last_stats > 1.0:
            last_stats = now
            _write_stats(stats_path, links)
    if stats_path:
        _write_stats(stats_path, links)


def _send(link: Link, sock: socket.socket, frame: bytes) -> None:
    try:
        sock.send(frame)
    except OSError:
        link.frames["errors"] += 1


def _write_stats(path: str, links: list[Link]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({f"{x.inner_name}:{x.outer_name}": x.frames for x in links}, f)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.multihost.forwarder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--link", required=True, help="INNER:OUTER[,INNER:OUTER...]")
    r.add_argument("--delay-ms", type=float, default=0.0)
    r.add_argument("--jitter-ms", type=float, default=0.0)
    r.add_argument("--loss", type=float, default=0.0)
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--stats", default=None, help="write frame counters here (JSON) every second")
    o = sub.add_parser("offload")
    o.add_argument("ifaces", nargs="+")
    args = p.parse_args(argv)
    if args.cmd == "offload":
        for name in args.ifaces:
            offloads_off(name)
        return 0
    if args.jitter_ms > args.delay_ms:
        p.error("--jitter-ms must not exceed --delay-ms")
    if not 0 <= args.loss < 1:
        p.error("--loss must be in [0, 1)")
    links = [Link(*pair.split(":", 1)) for pair in args.link.split(",")]
    run(links, args.delay_ms / 1000, args.jitter_ms / 1000, args.loss, random.Random(args.seed), args.stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
