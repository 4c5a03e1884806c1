"""One function per verb: build the request, call the daemon through swarmd.client, print the reply."""

from __future__ import annotations

import argparse
import json
import sys
import time

from google.protobuf import json_format

from swarmctl.main import (
    DEFAULT_TIMEOUT,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    VERB_TIMEOUTS,
    CtlError,
)
from swarmd import client as sc
from swarmd.client import pb


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


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


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
    return _table(rows)


def _human_board(board: pb.Leaderboard) -> str:
    from swarmd import tables

    return tables.leaderboard(board)


def status(c: sc.Client, args) -> int:
    _print(args, c.status(timeout=args.timeout), _human_status)
    return EXIT_OK


def peers(c: sc.Client, args) -> int:
    _print(args, c.peers(args.all, timeout=args.timeout), _human_peers)
    return EXIT_OK


def join(c: sc.Client, args) -> int:
    reply = c.join(args.multiaddrs, timeout=args.timeout)
    _print(
        args,
        reply,
        lambda r: "\n".join(
            f"{x.multiaddr}: " + (f"connected to {x.peer_id}" if x.ok else f"failed: {x.error}")
            for x in r.results
        ),
    )
    return EXIT_OK if all(x.ok for x in reply.results) else EXIT_ERROR


def leave(c: sc.Client, args) -> int:
    _print(args, c.leave(timeout=args.timeout), lambda r: f"left the mesh ({r.disconnected} peers disconnected)")
    return EXIT_OK


def round_(c: sc.Client, args) -> int:
    if args.round_verb == "start":
        reply = c.start_round(args.round, timeout=args.timeout)
    else:
        reply = c.advance_round(timeout=args.timeout)
    _print(args, reply, lambda r: f"round {r.round} stage {r.stage} (source {r.source})")
    return EXIT_OK


def _human_rounds(reply: pb.ListRoundsResponse) -> str:
    if not reply.rounds:
        return "no rounds recorded yet"
    rows = [("ROUND", "REWARD", "GROUPS", "WINNERS", "SECONDS", "FINISHED")]
    for r in reply.rounds:
        rows.append((
            f"{r.round}.{r.stage}",
            f"{r.own_reward:.3f}" if r.has_own_reward else "-",
            f"{r.local_groups}+{r.external_groups}",
            ", ".join(w[-8:] for w in r.winners) or "-",
            f"{r.seconds:.1f}",
            time.strftime("%H:%M:%S", time.localtime(r.finished_at)) if r.finished_at else "-",
        ))
    return _table(rows) + (f"\n({len(reply.rounds)} of {reply.total})" if reply.total > len(reply.rounds) else "")


def rounds(c: sc.Client, args) -> int:
    if args.limit:
        reply = c.rounds(args.limit, timeout=args.timeout)
    else:
        reply = pb.ListRoundsResponse()
        reply.rounds.extend(c.iter_rounds())
        reply.total = len(reply.rounds)
    _print(args, reply, _human_rounds)
    return EXIT_OK


def _note(args, message: str) -> None:
    """Progress for people, on stderr (stdout stays the reply, for scripts)."""
    if not args.json:
        print(message, file=sys.stderr, flush=True)


def register(c: sc.Client, args) -> int:
    _note(args, f"registering on chain (waits for the transaction; up to {args.timeout:g}s, see --timeout) ...")
    _print(
        args,
        c.register(timeout=args.timeout),
        lambda r: f"{r.peer_id} is registered to {r.address}"
        + (" (already)" if r.already_registered else f" (tx {r.tx_hash})"),
    )
    return EXIT_OK


def _human_submit(r: pb.SubmitResultsResponse) -> str:
    if r.queued == 0 and r.already_submitted:
        return (f"round {r.round} was already submitted ({r.already_submitted} stages); nothing sent again "
                f"({r.pending} pending)")
    text = f"round {r.round}: queued {r.queued} submissions ({r.pending} pending)"
    if r.already_submitted:
        text += f"; {r.already_submitted} stages were already submitted"
    return text


def submit(c: sc.Client, args) -> int:
    _print(args, c.submit_results(args.round, timeout=args.timeout), _human_submit)
    return EXIT_OK


def leaderboard(c: sc.Client, args) -> int:
    _print(args, c.leaderboard(args.query, args.limit, timeout=args.timeout), _human_board)
    return EXIT_OK


def export(c: sc.Client, args) -> int:
    import os

    directory = os.path.abspath(args.directory)
    _note(args, f"exporting the adapter (waits for the trainer's current step; up to {args.timeout:g}s, "
                f"see --timeout) ...")
    if args.on_daemon:
        reply = c.export_adapter(directory, timeout=args.timeout)
        _print(args, reply, lambda r: f"adapter (policy version {r.policy_version}) written to {r.directory}")
        return EXIT_OK
    shown = [0.0]

    def progress(received: int, total: int) -> None:
        now = time.monotonic()
        if not args.json and sys.stderr.isatty() and (now - shown[0] > 0.2 or received == total):
            shown[0] = now
            print(f"\r  {received / 2**20:.1f} / {total / 2**20:.1f} MiB", end="", file=sys.stderr, flush=True)

    done = c.download_adapter(directory, progress=progress, timeout=args.timeout)
    if not args.json and sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        print(json.dumps({"directory": str(done.directory), "policy_version": done.policy_version,
                          "files": list(done.files), "bytes": done.bytes}))
    else:
        print(f"adapter (policy version {done.policy_version}, {len(done.files)} files, "
              f"{done.bytes / 2**20:.1f} MiB) written to {done.directory}")
    return EXIT_OK


def checkpoint(c: sc.Client, args) -> int:
    _note(args, f"checkpointing (waits for the trainer's current step; up to {args.timeout:g}s, see --timeout) ...")
    _print(args, c.checkpoint(timeout=args.timeout),
           lambda r: f"checkpoint at policy version {r.policy_version}: {r.path}")
    return EXIT_OK


def pause(c: sc.Client, args) -> int:
    _print(args, c.pause_training(timeout=args.timeout),
           lambda r: "training was already paused" if r.unchanged
           else "training paused from the next stage on (the node keeps relaying)")
    return EXIT_OK


def resume(c: sc.Client, args) -> int:
    _print(args, c.resume_training(timeout=args.timeout),
           lambda r: "training was not paused" if r.unchanged else "training resumes at the next stage")
    return EXIT_OK


def config(c: sc.Client, args) -> int:
    cfg = c.get_config(timeout=args.timeout)
    if args.json:
        print(json.dumps(cfg.values))
        return EXIT_OK
    for section, values in cfg.values.items():
        print(f"[{section}]")
        for key, value in (values.items() if isinstance(values, dict) else []):
            print(f"{key} = {json.dumps(value)}")
        print()
    if cfg.redacted:
        print(f"# redacted: {', '.join(cfg.redacted)}")
    return EXIT_OK


def _human_event(e: pb.Event) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(e.time))
    if e.kind == pb.EVENT_KIND_GAP:
        return f"{stamp} -- {e.message} --"
    kind = pb.EventKind.Name(e.kind).removeprefix("EVENT_KIND_").lower()
    return f"{stamp} #{e.seq} {kind:<9} {e.message}"


def events(c: sc.Client, args) -> int:
    stream = c.events(args.kind, since=args.since, replay=args.replay,
                      timeout=args.timeout if args.timeout_given else None)
    seen = 0
    try:
        for event in stream:
            print(to_json(event) if args.json else _human_event(event), flush=True)
            seen += 1
            if args.count and seen >= args.count:
                break
    finally:
        stream.close()
    return EXIT_OK


def shutdown(c: sc.Client, args) -> int:
    _print(args, c.shutdown(timeout=args.timeout), lambda r: "daemon is stopping")
    return EXIT_OK


VERBS = {
    "status": status,
    "peers": peers,
    "join": join,
    "leave": leave,
    "round": round_,
    "rounds": rounds,
    "register": register,
    "submit": submit,
    "leaderboard": leaderboard,
    "export": export,
    "checkpoint": checkpoint,
    "pause": pause,
    "resume": resume,
    "config": config,
    "events": events,
    "shutdown": shutdown,
}

_EXIT_CODES = (
    (sc.Unreachable, EXIT_UNREACHABLE),
    (sc.Refused, EXIT_REFUSED),
    (sc.NotAvailable, EXIT_REFUSED),
    (sc.BadRequest, EXIT_USAGE),
)


def _exit_code(e: sc.ControlError) -> int:
    for cls, code in _EXIT_CODES:
        if isinstance(e, cls):
            return code
    return EXIT_ERROR


def _message(e: sc.ControlError, args) -> str:
    if isinstance(e, sc.DeadlineExceeded):
        return (f"{args.verb}: no answer within {args.timeout:g}s (the daemon is up but busy; "
                f"give it longer with --timeout SECONDS)")
    if isinstance(e, sc.Refused | sc.NotAvailable):
        return f"refused: {e}"
    if isinstance(e, sc.BadRequest):
        return f"rejected: {e}"
    if isinstance(e, sc.Unreachable):
        return str(e)
    if isinstance(e, sc.Busy):
        return f"busy: {e} (try again shortly)"
    return f"daemon error ({e.code}): {e}"


def connect(args: argparse.Namespace) -> sc.Client:
    tls = None
    if args.tls_ca or args.tls_cert or args.tls_server_name:
        tls = sc.TLS(ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key,
                     server_name=args.tls_server_name)
    return sc.Client(args.socket, address=args.address, data_dir=args.data_dir, token_file=args.token_file,
                     tls=tls, timeout=args.timeout, long_timeout=args.timeout)


def run(args: argparse.Namespace) -> int:
    args.timeout_given = args.timeout is not None
    if args.timeout is None:
        args.timeout = VERB_TIMEOUTS.get(args.verb, DEFAULT_TIMEOUT)
    try:
        with connect(args) as c:
            return (getattr(args, "handler", None) or VERBS[args.verb])(c, args)
    except sc.ControlError as e:
        raise CtlError(_message(e, args), _exit_code(e)) from None
    finally:
        sys.stdout.flush()


__all__ = ["run", "to_json"]
