"""One function per verb: build the request, call the daemon, print the reply."""

from __future__ import annotations

import argparse
import os
import sys

from google.protobuf import json_format

from swarmctl.main import EXIT_ERROR, EXIT_OK
from swarmd._pb.swarm.v1 import control_pb2 as pb


def to_json(message) -> str:
    return json_format.MessageToJson(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        indent=None,
        sort_keys=False,
    )


def _print(args: argparse.Namespace, message, human) -> None:
    if args.json:
        print(to_json(message))
    else:
        print(human(message))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def _human_status(s: pb.Status) -> str:
    lines = [
        f"{s.name}  {s.peer_id}",
        f"  version {s.version} · up {_duration(s.uptime_s)} · swarm {s.swarm_id} · "
        f"pid {s.pid} · {s.state}",
        f"  roles    {', '.join(s.roles) or '-'}",
    ]
    m = s.mesh
    mesh = m.state
    if m.state not in ("disabled", "unavailable"):
        mesh += f" · {m.connected_peers} connected ({m.live_peers} live, {m.stale_peers} stale)"
        if m.listen_addrs:
            mesh += f" · listen {' '.join(m.listen_addrs)}"
        rejected = sum(m.rejected.values())
        if rejected:
            mesh += f" · rejected {rejected}"
    lines.append(f"  mesh     {mesh}")
    if m.state not in ("disabled", "unavailable"):
        if m.announced_addrs:
            lines.append(f"  announce {' '.join(m.announced_addrs)}")
        if m.observed_addrs:
            lines.append(f"  observed {' '.join(m.observed_addrs)}")
        if m.reachability == "not_reachable":
            lines.append(f"  WARNING  not reachable: {m.reachability_detail}")
    r = s.round
    rnd = f"{r.round} stage {r.stage}"
    if r.stage_count:
        rnd += f"/{r.stage_count}"
    rnd += f" · {r.phase}"
    if r.source:
        rnd += f" · source {r.source}"
    if r.environment:
        rnd += f" · env {r.environment}"
    if r.has_last_reward:
        rnd += f" · last reward {r.last_reward:.3f}"
    lines.append(f"  round    {rnd}")
    t = s.training
    train = t.state
    if t.model:
        train += f" · {t.model}"
        if t.device:
            train += f" on {t.device}" + (f"/{t.dtype}" if t.dtype else "")
        train += f" · step {t.step}"
        if t.last_step_s:
            train += f" · reward {t.last_reward_mean:.3f} · loss {t.last_loss:.4f} · {t.last_step_s:.1f}s/step"
        if t.worker_restarts:
            train += f" · {t.worker_restarts} restarts"
    if t.last_error:
        train += f" · last error: {t.last_error}"
    lines.append(f"  training {train}")
    c = s.chain
    chain = c.state
    if c.address:
        chain += f" · {c.address} · {'registered' if c.registered else 'not registered'}"
        chain += f" · pending {c.pending_submissions} · sent {c.submitted}"
        if c.failed_submissions:
            chain += f" · failed {c.failed_submissions}"
    if c.last_error:
        chain += f" · last error: {c.last_error}"
    lines.append(f"  chain    {chain}")
    return "\n".join(lines)


def _human_peers(reply: pb.ListPeersResponse) -> str:
    if not reply.peers:
        return "no peers"
    rows = [("NAME", "PEER ID", "STATE", "RTT", "ROUND", "MODEL", "SEEN")]
    for p in reply.peers:
        rows.append(
            (
                p.name,
                p.peer_id,
                p.liveness + ("" if p.connected else " (disconnected)"),
                f"{p.rtt_ms:.1f}ms" if p.rtt_ms else "-",
                str(p.round) + (f" stage {p.stage}" if p.stage else ""),
                p.model or "-",
                f"{p.last_seen_s_ago:.0f}s ago",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def status(stub, args) -> int:
    _print(args, stub.call("GetStatus", pb.GetStatusRequest()), _human_status)
    return EXIT_OK


def peers(stub, args) -> int:
    _print(args, stub.call("ListPeers", pb.ListPeersRequest(include_stale=args.all)), _human_peers)
    return EXIT_OK


def join(stub, args) -> int:
    reply = stub.call("Join", pb.JoinRequest(multiaddrs=args.multiaddrs))
    _print(
        args,
        reply,
        lambda r: "\n".join(
            f"{x.multiaddr}: " + (f"connected to {x.peer_id}" if x.ok else f"failed: {x.error}")
            for x in r.results
        ),
    )
    return EXIT_OK if all(x.ok for x in reply.results) else EXIT_ERROR


def leave(stub, args) -> int:
    _print(args, stub.call("Leave", pb.LeaveRequest()), lambda r: f"left the mesh ({r.disconnected} peers disconnected)")
    return EXIT_OK


def round_(stub, args) -> int:
    if args.round_verb == "start":
        reply = stub.call("StartRound", pb.StartRoundRequest(round=args.round))
    else:
        reply = stub.call("AdvanceRound", pb.AdvanceRoundRequest())
    _print(args, reply, lambda r: f"round {r.round} stage {r.stage} (source {r.source})")
    return EXIT_OK


def register(stub, args) -> int:
    _print(
        args,
        stub.call("Register", pb.RegisterRequest()),
        lambda r: f"{r.peer_id} is registered to {r.address}"
        + (" (already)" if r.already_registered else f" (tx {r.tx_hash})"),
    )
    return EXIT_OK


def submit(stub, args) -> int:
    _print(
        args,
        stub.call("SubmitResults", pb.SubmitResultsRequest(round=args.round)),
        lambda r: f"queued {r.queued} submissions ({r.pending} pending)",
    )
    return EXIT_OK


def _human_board(board: pb.Leaderboard) -> str:
    from swarmd import tables

    return tables.leaderboard(board)


def leaderboard(stub, args) -> int:
    _print(args, stub.call("GetLeaderboard", pb.GetLeaderboardRequest(query=args.query, limit=args.limit)), _human_board)
    return EXIT_OK


def export(stub, args) -> int:
    _print(
        args,
        # the daemon resolves nothing relative to its own working directory
        stub.call("ExportAdapter", pb.ExportAdapterRequest(directory=os.path.abspath(args.directory))),
        lambda r: f"adapter (policy version {r.policy_version}) written to {r.directory}",
    )
    return EXIT_OK


def _human_event(e: pb.Event) -> str:
    import time

    stamp = time.strftime("%H:%M:%S", time.localtime(e.time))
    kind = pb.EventKind.Name(e.kind).removeprefix("EVENT_KIND_").lower()
    return f"{stamp} #{e.seq} {kind:<9} {e.message}"


def events(stub, args) -> int:
    kinds = [pb.EventKind.Value(f"EVENT_KIND_{k.upper()}") for k in args.kind]
    seen = 0
    for event in stub.stream("WatchEvents", pb.WatchEventsRequest(kinds=kinds)):
        print(to_json(event) if args.json else _human_event(event), flush=True)
        seen += 1
        if args.count and seen >= args.count:
            break
    return EXIT_OK


def shutdown(stub, args) -> int:
    _print(args, stub.call("Shutdown", pb.ShutdownRequest()), lambda r: "daemon is stopping")
    return EXIT_OK


VERBS = {
    "status": status,
    "peers": peers,
    "join": join,
    "leave": leave,
    "round": round_,
    "register": register,
    "submit": submit,
    "leaderboard": leaderboard,
    "export": export,
    "events": events,
    "shutdown": shutdown,
}


def run(stub, args) -> int:
    try:
        return (getattr(args, "handler", None) or VERBS[args.verb])(stub, args)
    finally:
        sys.stdout.flush()


__all__ = ["run", "to_json"]
