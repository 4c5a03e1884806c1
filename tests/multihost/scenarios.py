"""A swarm across network namespaces: a bootnode and trainers, each a real daemon on its own host.

The daemons are the lightest that exercise the mesh: ``python -m
swarmd.p2p.loadgen`` (the real daemon with only the mesh and the control
plane, plus a task publishing one batch per round on a shared clock and
collecting every trainer's batch through the Mesh API). Rounds come from the
clock, not from the bootnode, as they would from the chain.

Used by tests/multihost/ (which assert) and bench/multihost.py (which reports).
Every wait is on a condition, polled; figures are measured, not assumed.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.p2p.cluster import LoadgenDaemon, make_identity, mesh_config, write_start
from swarmd.tools.procs import wait_until
from tests.multihost.harness import Net

PORT = 4001
BAD_PREFIXES = ("/ip4/0.0.0.0/", "/ip6/::/", "/ip4/127.", "/ip6/::1/")


class Swarm:
    """Host 0: the bootnode (listens on 0.0.0.0, no announce). Hosts 1..n: trainers."""

    def __init__(self, net: Net, tmp: Path, trainers: int, period: float, size: int = 4096,
                 p2p: dict[str, Any] | None = None, rounds: int = 100000) -> None:
        self.net = net
        self.tmp = tmp
        self.period = period
        self.start_file = tmp / "start"
        self.started_at = 0.0
        self.p2p = {"listen": [f"/ip4/0.0.0.0/tcp/{PORT}"], **(p2p or {})}
        self.boot_id = make_identity(tmp / "boot")
        self.boot_addr = f"/ip4/{net.ip(0)}/tcp/{PORT}/p2p/{self.boot_id}"
        self.boot = net.daemon(0, tmp / "boot", mesh_config(self.p2p, node={"mode": "bootnode"}),
                               ["--relay", "--start-file", str(self.start_file)], name="boot")
        self.ids = {f"t{i}": make_identity(tmp / f"t{i}") for i in range(1, trainers + 1)}
        args = ["--rounds", str(rounds), "--period", str(period), "--size", str(size),
                "--start-file", str(self.start_file), "--expect", ",".join(self.ids.values())]
        trainer_p2p = {**self.p2p, "bootnodes": [self.boot_addr]}
        self.trainers: list[LoadgenDaemon] = [
            net.daemon(i, tmp / name, mesh_config(trainer_p2p), args, name=name)
            for i, name in enumerate(self.ids, start=1)
        ]

    @property
    def all(self) -> list[LoadgenDaemon]:
        return [self.boot, *self.trainers]

    def id_of(self, d: LoadgenDaemon) -> str:
        return self.boot_id if d is self.boot else self.ids[d.name]

    def start(self, timeout: float = 120.0) -> float:
        """Start every daemon, wait until all list each other live, start the clock; returns the seconds taken."""
        t0 = time.monotonic()
        for d in self.all:
            d.start(wait=False)
        for d in self.all:
            d.wait_ready(timeout)
        wait_until(lambda: self.meshed(self.all), timeout, interval=0.5, what="every node lists every other live")
        self.started_at = write_start(self.start_file, 1.0)
        return time.monotonic() - t0

    # -- looking -------------------------------------------------------------------------

    def peers(self, d: LoadgenDaemon) -> dict[str, Any]:
        """The node's peer table (ListPeers over its control socket), stale peers included."""
        reply = d.call("ListPeers", pb.ListPeersRequest(include_stale=True), timeout=5)
        return {p.peer_id: p for p in reply.peers}

    def live(self, d: LoadgenDaemon) -> set[str]:
        return {pid for pid, p in self.peers(d).items() if p.liveness == "live" and p.version}

    def meshed(self, nodes: list[LoadgenDaemon]) -> bool:
        for d in nodes:
            if not {self.id_of(o) for o in nodes if o is not d} <= self.live(d):
                return False
        return True

    def rounds(self, d: LoadgenDaemon) -> dict[int, dict[str, Any]]:
        return {x["round"]: x for x in d.results().get("rounds", [])}

    def begins(self, r: int) -> float:
        return self.started_at + (r - 1) * self.period

    def round_at(self, t: float) -> int:
        """The first round that begins at or after unix time ``t``."""
        return max(1, int((t - self.started_at) // self.period) + 2)

    def complete(self, r: int, nodes: list[LoadgenDaemon] | None = None) -> bool:
        """Round ``r`` is recorded by every trainer in ``nodes`` with every trainer's batch held."""
        want = set(self.ids.values())
        for d in nodes or self.trainers:
            rec = self.rounds(d).get(r)
            if rec is None or not want <= set(rec["held"]):
                return False
        return True

    def first_complete_from(self, r0: int, timeout: float) -> int:
        """The first round ≥ r0 complete everywhere (waits for it)."""
        found: list[int] = []

        def check() -> bool:
            last = min(max(self.rounds(d), default=0) for d in self.trainers)
            for r in range(r0, last + 1):
                if self.complete(r):
                    found.append(r)
                    return True
            return False

        wait_until(check, timeout, interval=0.25, what=f"a round from {r0} on with every trainer's batch")
        return found[0]

    def bad_addrs(self) -> dict[str, list[str]]:
        """Unspecified or loopback addresses of other hosts that any node recorded or dialed."""
        out: dict[str, list[str]] = {}
        for d in self.all:
            if not d.alive:
                continue
            bad = [a for p in self.peers(d).values() for a in p.addrs if a.startswith(BAD_PREFIXES)]
            bad += [line for line in d.log().splitlines()
                    if "dialing " in line and any(f" at {b}" in line for b in BAD_PREFIXES)]
            if bad:
                out[d.name] = bad
        return out

    def restart_boot(self, how: int = signal.SIGKILL) -> None:
        if how == signal.SIGKILL:
            self.boot.kill()
        else:
            self.boot.stop(30)
        self.boot.start(wait=True, timeout=120)

    def stop(self) -> None:
        for d in self.all:
            if d.alive:
                d.signal(signal.SIGTERM)
        for d in self.all:
            try:
                d.wait_exit(20)
            except Exception:  # noqa: BLE001 - teardown reaches every daemon
                d.kill()


def bootnode_restart(s: Swarm) -> dict[str, float]:
    """Kill -9 the bootnode and start it again (same identity and port). Seconds from its restart
    (its control plane answering) until every trainer lists it live, and until a round with every
    trainer's batch completes; also the start-up itself and kill → listed live."""
    s.first_complete_from(s.round_at(time.time()), 60)
    t_kill = time.time()
    s.restart_boot(signal.SIGKILL)
    t_up = time.time()
    wait_until(lambda: all(s.boot_id in s.live(d) for d in s.trainers), 60, interval=0.25,
               what="every trainer lists the bootnode live again")
    t_live = time.time()
    r = s.first_complete_from(s.round_at(t_up), 60)
    t_round = s.begins(r) + s.period  # the round's deadline bounds when it completed
    done = max(rec["returned_at"] for d in s.trainers for rec in [s.rounds(d)[r]])
    return {"boot_live_s": t_live - t_up, "round_s": min(done, t_round) - t_up, "round": r,
            "start_s": t_up - t_kill, "boot_live_from_kill_s": t_live - t_kill}


def cut_and_heal(s: Swarm, index: int, cut_s: float) -> dict[str, Any]:
    """Cut trainer ``index`` off for ``cut_s``, heal; seconds from the heal until it is live in every
    peer table and until its batch is in a completed round; and how the others' rounds fared."""
    victim = s.trainers[index]
    vid = s.id_of(victim)
    others = [d for d in s.all if d is not victim]
    s.first_complete_from(s.round_at(time.time()), 60)
    t_cut = time.time()
    s.net.cut(index + 1)
    time.sleep(cut_s)  # the scenario is a partition of this length: nothing to wait for
    s.net.heal(index + 1)
    t_heal = time.time()
    others_ids = {s.id_of(d) for d in others}
    wait_until(lambda: all(vid in s.live(d) for d in others) and others_ids <= s.live(victim), 60, interval=0.25,
               what="the healed trainer is live in every peer table, and every peer in its")
    t_live = time.time()
    r = s.first_complete_from(s.round_at(t_heal), 60)
    done = max(s.rounds(d)[r]["returned_at"] for d in s.trainers)
    # The others' rounds while it was gone: once it is stale they wait for nobody missing.
    stale_bound = 7.0  # stale_after_s + the 1 s sweep, with the defaults
    during = []
    for d in s.trainers:
        if d is victim:
            continue
        for rr, rec in s.rounds(d).items():
            if t_cut + stale_bound + 1 <= rec["begins"] and rec["deadline"] <= t_heal:
                during.append({"node": d.name, "round": rr, "waited_s": rec["returned_at"] - rec["published_at"],
                               "deadline_s": rec["deadline"] - rec["published_at"],
                               "expected_victim": vid in rec["expected"]})
    return {"live_s": t_live - t_heal, "round_s": done - t_heal, "round": r, "during": during}


def summarize_rounds(s: Swarm, first: int, last: int) -> dict[str, Any]:
    """Delivery, round time (publish → every batch held) and how batches arrived, rounds first..last."""
    want = set(s.ids.values())
    name_of = {v: k for k, v in s.ids.items()}
    times, via = [], {"gossip": 0, "pull": 0}
    complete = 0
    incomplete = []
    published = {(d.name, r): rec["published_at"] for d in s.trainers for r, rec in s.rounds(d).items()}
    for d in s.trainers:
        recs = s.rounds(d)
        for r in range(first, last + 1):
            rec = recs.get(r)
            if rec is None:
                incomplete.append({"node": d.name, "round": r, "missing": "its own record (skipped: started late)"})
                continue
            if want <= set(rec["held"]):
                complete += 1
            else:  # a sender that published after this node's deadline was starved, not lost
                incomplete.append({"node": d.name, "round": r, "missing": {
                    name_of[m]: round(published.get((name_of[m], r), float("inf")) - rec["deadline"], 2)
                    for m in want - set(rec["held"])}})
            arrived = [x["received_at"] for x in rec["senders"].values()]
            times.append(max(arrived) - rec["published_at"])
            for x in rec["senders"].values():
                if x["via"] in via:
                    via[x["via"]] += 1
    times.sort()
    n = len(times)
    return {
        "rounds": last - first + 1,
        "records": n,
        "complete": complete,
        "delivery": complete / max(1, (last - first + 1) * len(s.trainers)),
        "round_p50_s": times[n // 2] if n else None,
        "round_p90_s": times[int(n * 0.9)] if n else None,
        "round_max_s": times[-1] if n else None,
        "via_gossip": via["gossip"],
        "via_pull": via["pull"],
        "incomplete": incomplete,  # missing: sender → its publish time minus this node's deadline
    }


def write_figures(path: Path, figures: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else {}
    old.update(figures)
    path.write_text(json.dumps(old, indent=1))
