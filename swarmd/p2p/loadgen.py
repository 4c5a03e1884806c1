"""A traffic generator that runs inside a real swarmd process, through the real Mesh API.

    python -m swarmd.p2p.loadgen [swarmd options] --rounds 20 --period 3 --size 16384 \\
        --start-file START [--expect ID,ID,...] [--collect-frac 0.9]

It runs the normal daemon and, beside it, one task standing in for the swarm
game: it registers the kind "loadgen" (``LoadBatch``), waits for the shared
clock (the unix time written in ``--start-file``; round r starts at
``start + (r - 1) * period``), and in each round publishes one batch of
``--size`` random bytes, then calls ``Mesh.collect`` with the round's deadline
(``--collect-frac`` of the period). After each round it rewrites
``DATA_DIR/loadgen.json``: per round, who was held when collect returned,
each sender's sent_at/received_at and path (gossip or pull), and whether
collect returned before the deadline. A node started late joins at the
current round; it keeps running after the last round until stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from swarmd._pb.swarm.v1 import p2p_pb2

KIND = "loadgen"
log = logging.getLogger("swarmd.p2p.loadgen")


def _args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(prog="python -m swarmd.p2p.loadgen", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--period", type=float, default=3.0, help="seconds per round")
    p.add_argument("--size", type=int, default=16384, help="payload bytes per batch")
    p.add_argument("--collect-frac", type=float, default=0.9, help="deadline as a fraction of the period")
    p.add_argument("--start-file", type=Path, required=True, help="file holding the unix time round 1 starts")
    p.add_argument("--relay", action="store_true", help="only register the kind (a bootnode: relays, serves pulls)")
    p.add_argument("--expect", default="", help="comma-separated peer IDs to wait for (default: live trainer peers)")
    return p.parse_known_args(argv)


def _write(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, path)


async def _wait_start(path: Path) -> float:
    while True:  # polling a file: the test harness writes it once every node is meshed
        try:
            return float(path.read_text().strip())  # noqa: ASYNC240 - a few bytes, local file
        except (FileNotFoundError, ValueError):
            await asyncio.sleep(0.1)


async def generate(daemon: Any, args: argparse.Namespace) -> None:
    try:
        await _generate(daemon, args)
    except asyncio.CancelledError:
        raise
    except BaseException:
        log.exception("the load generator failed")
        raise


async def _generate(daemon: Any, args: argparse.Namespace) -> None:
    while daemon.state != "running":
        if daemon.state == "stopping":
            return
        await asyncio.sleep(0.05)
    mesh = daemon.mesh
    size = args.size
    mesh.register_kind(KIND, p2p_pb2.LoadBatch, size + 64,
                       lambda b, sender: None if len(b.filler) <= size else "filler_too_large")
    expect = {p for p in args.expect.split(",") if p} or None
    out = daemon.config.data_dir / "loadgen.json"
    doc: dict[str, Any] = {"peer_id": mesh.peer_id, "pid": os.getpid(), "rounds": []}
    if out.exists():  # a restarted node keeps what it recorded before
        try:
            doc["previous"] = json.loads(out.read_text())
        except ValueError:
            pass
    _write(out, doc)
    if args.relay:
        doc["done"] = True
        _write(out, doc)
        return
    start = await _wait_start(args.start_file)
    loop = asyncio.get_running_loop()
    first = max(1, int((time.time() - start) // args.period) + 1)
    for r in range(first, args.rounds + 1):
        begins = start + (r - 1) * args.period
        deadline = begins + args.period * args.collect_frac
        if time.time() > deadline:
            continue
        await asyncio.sleep(max(0.0, begins - time.time()))
        mesh.set_presence(r, 0, "loadgen", [KIND])
        published_at = time.time()
        try:
            await mesh.publish(KIND, r, 0, p2p_pb2.LoadBatch(round=r, filler=os.urandom(size)))
            held = await mesh.collect(KIND, r, 0, expect, loop.time() + (deadline - time.time()))
        except Exception as e:  # noqa: BLE001 - recorded; the next round goes on
            log.exception("round %d failed", r)
            doc.setdefault("errors", []).append({"round": r, "error": repr(e)})
            continue
        returned = time.time()
        got = mesh.held_received(KIND, r, 0)
        doc["rounds"].append({
            "round": r,
            "begins": begins,
            "deadline": deadline,
            "published_at": published_at,
            "returned_at": returned,
            "before_deadline": returned <= deadline + 0.05,
            "held": sorted(held),
            "expected": sorted(mesh.expected(expect)),
            "senders": {s: {"sent_at": x.sent_at, "received_at": x.received_at, "via": x.via} for s, x in got.items()},
        })
        _write(out, doc)
        log.info("round %d: %d held", r, len(held))
    doc["done"] = True
    _write(out, doc)


def _dump_tasks() -> None:
    for t in asyncio.all_tasks():
        frames = " <- ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in t.get_stack())
        print(f"task {t.get_name()}: {frames}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args, rest = _args(sys.argv[1:] if argv is None else argv)
    import faulthandler
    import signal

    # Diagnosis of a stuck run: SIGUSR2 dumps every thread's stack, SIGUSR1 every asyncio task's.
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    from swarmd import cli, identity, logs
    from swarmd import config as cfg
    from swarmd.lockfile import DataDirLock, LockError

    ns = cli._parser().parse_args(rest)
    overrides: dict[str, object] = {}
    for item in ns.set:
        key, value = cfg.parse_assignment(item)
        overrides[key] = value
    if ns.data_dir is not None:
        overrides["node.data_dir"] = str(ns.data_dir)
    try:
        config = cfg.load(ns.config, cli=overrides)
    except cfg.ConfigError as e:
        print(f"loadgen: {e}", file=sys.stderr)
        return 2
    logs.setup(ns.log_level or config.log.level, config.log.format, config.log.libp2p_level)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    lock = DataDirLock(config.lock_path)
    try:
        lock.acquire()
    except LockError as e:
        print(f"loadgen: {e}", file=sys.stderr)
        return 3
    try:
        ident, _ = identity.load_or_create(config.identity_file)
        import uvloop

        from swarmd.daemon import Daemon

        async def run() -> int:
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _dump_tasks)
            daemon = Daemon(config, ident)
            task = asyncio.create_task(generate(daemon, args), name="loadgen")
            try:
                return await daemon.run()
            finally:
                task.cancel()

        return uvloop.run(run())
    finally:
        lock.release()


if __name__ == "__main__":
    sys.exit(main())
