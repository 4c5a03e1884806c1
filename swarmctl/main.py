"""swarmctl: talk to a swarmd daemon over its gRPC control plane (through swarmd.client).

Exit codes (stable, for scripts):
  0  success
  1  error: the daemon failed the request or is busy, a deadline passed (see --timeout), or something unexpected
  2  usage error (bad arguments, or the daemon rejected an argument)
  3  the daemon is unreachable (no socket, nothing listening, connection refused)
  4  refused (no permission, wrong token, role or feature not available, no such round)

Global options (--socket, --json, --timeout, ...) go before or after the verb.
Only the standard library is imported until a verb runs, so --help is instant.
"""

from __future__ import annotations

import argparse
import sys

from swarmctl import bundle

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REFUSED = 0, 1, 2, 3, 4

# Seconds a verb waits for its answer unless --timeout says otherwise: the long
# ones wait on the trainer (a step in progress) or on the chain (a transaction).
DEFAULT_TIMEOUT = 10.0
VERB_TIMEOUTS = {"export": 600.0, "checkpoint": 600.0, "register": 180.0, "submit": 60.0, "join": 30.0}
KINDS = ["lifecycle", "peer", "round", "rollout", "rejection", "training", "chain"]


class CtlError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _global_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    """The options every verb takes; on a verb's parser their defaults are suppressed
    so a value given before the verb is not overwritten."""

    def default(value):
        return argparse.SUPPRESS if suppress else value

    g = p.add_argument_group("connection and output (before or after the verb)")
    g.add_argument("--socket", default=default(None),
                   help="daemon's unix socket (default: $SWARMCTL_SOCKET, else DATA_DIR/swarmd.sock)")
    g.add_argument("--data-dir", default=default(None), help="find the socket in this data directory")
    g.add_argument("--address", metavar="HOST:PORT", default=default(None), help="daemon's TCP control address")
    g.add_argument("--token-file", default=default(None), help="bearer token file for --address")
    g.add_argument("--tls-ca", metavar="PEM", default=default(None),
                   help="CA that signed the daemon's certificate (--address over TLS)")
    g.add_argument("--tls-cert", metavar="PEM", default=default(None), help="client certificate (mutual TLS)")
    g.add_argument("--tls-key", metavar="PEM", default=default(None), help="client certificate's key")
    g.add_argument("--tls-server-name", default=default(None), help="name to verify the daemon's certificate against")
    g.add_argument("--json", action="store_true", default=default(False),
                   help="print replies as JSON (proto field names)")
    g.add_argument("--timeout", type=float, default=default(None),
                   help="seconds to wait for the answer (default 10; export and checkpoint 600, "
                   "register 180, submit 60)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="swarmctl",
        description="Control a swarmd daemon.",
        epilog="Exit codes: 0 ok, 1 error, 2 usage, 3 daemon unreachable, 4 refused.",
    )
    _global_options(p, suppress=False)
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, help: str, parent=verbs) -> argparse.ArgumentParser:  # noqa: A002
        sub = parent.add_parser(name, help=help, description=help)
        _global_options(sub, suppress=True)
        return sub

    verb("status", "node identity, mesh, round, training and chain state")
    peers = verb("peers", "the peer table")
    peers.add_argument("--all", action="store_true", help="include stale peers")
    join = verb("join", "connect to peers by multiaddr")
    join.add_argument("multiaddrs", nargs="+", metavar="MULTIADDR")
    verb("leave", "leave the mesh (the daemon keeps running)")
    rnd = verb("round", "start or advance a round (coordinator/stage manager)")
    rnd_verbs = rnd.add_subparsers(dest="round_verb", metavar="start|advance", required=True)
    start = verb("start", "start a round", rnd_verbs)
    start.add_argument("round", nargs="?", type=int, default=0, help="round number (default: next)")
    verb("advance", "advance to the next stage or round", rnd_verbs)
    verb("rounds", "the round history, newest first").add_argument(
        "--limit", type=int, default=20, help="this many records (0: all)")
    verb("register", "register this node's peer ID on chain")
    submit = verb("submit", "queue a round's results for the chain")
    submit.add_argument("round", nargs="?", type=int, default=0, help="round (default: last completed)")
    board = verb("leaderboard", "verified rewards and wins per peer")
    board.add_argument("query", nargs="?", default="", help="filter by name or peer ID")
    board.add_argument("--limit", type=int, default=0)
    export = verb("export", "export the LoRA adapter as a PEFT directory here")
    export.add_argument("directory")
    export.add_argument("--on-daemon", action="store_true",
                        help="have the daemon write DIRECTORY on its own filesystem instead of streaming it here")
    verb("checkpoint", "write a trainer checkpoint now")
    verb("pause", "stop training from the next stage on (the node keeps relaying)")
    verb("resume", "train again after pause")
    verb("config", "the resolved configuration the daemon runs with (secrets redacted)")
    events = verb("events", "recent events, then follow new ones")
    events.add_argument("--kind", action="append", default=[], choices=KINDS, help="only these kinds (repeatable)")
    events.add_argument("--count", type=int, default=0, help="stop after this many events")
    events.add_argument("--since", type=int, metavar="SEQ",
                        help="resume: every event after sequence number SEQ (the #N printed before)")
    events.add_argument("--replay", type=int, default=20,
                        help="without --since: replay this many recent events first (default 20; 0: none)")
    verb("shutdown", "stop the daemon gracefully")
    bundle.register(verb)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.socket and args.address:
        parser.error("give --socket or --address, not both")
    if (args.token_file or args.tls_ca or args.tls_cert or args.tls_key) and not args.address:
        parser.error("--token-file and --tls-* need --address")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.timeout is not None and args.timeout <= 0:
        parser.error("--timeout must be positive")
    from swarmctl import verbs

    try:
        return verbs.run(args)
    except CtlError as e:
        print(f"swarmctl: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
