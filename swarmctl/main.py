"""swarmctl: talk to a swarmd daemon over its gRPC control plane.

Exit codes (stable, for scripts):
  0  success
  1  the daemon reported an internal error, or something unexpected happened
  2  usage error (bad arguments, or the daemon rejected an argument)
  3  the daemon is unreachable (no socket, nothing listening, timed out)
  4  refused (no permission on the socket, wrong token, role or feature not available)

Only the standard library is imported until a verb runs, so --help is instant.
"""

from __future__ import annotations

import argparse
import os
import sys

from swarmctl import bundle

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REFUSED = 0, 1, 2, 3, 4


class CtlError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="swarmctl",
        description="Control a swarmd daemon.",
        epilog="Exit codes: 0 ok, 1 error, 2 usage, 3 daemon unreachable, 4 refused.",
    )
    target = p.add_mutually_exclusive_group()
    target.add_argument(
        "--socket",
        help="daemon's unix socket (default: $SWARMCTL_SOCKET, else DATA_DIR/swarmd.sock)",
    )
    target.add_argument("--address", metavar="HOST:PORT", help="daemon's TCP control address")
    p.add_argument("--token-file", help="bearer token file for --address")
    p.add_argument("--data-dir", help="find the socket in this data directory")
    p.add_argument("--json", action="store_true", help="print replies as JSON (proto field names)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    verbs.add_parser("status", help="node identity, mesh, round, training and chain state")
    peers = verbs.add_parser("peers", help="the peer table")
    peers.add_argument("--all", action="store_true", help="include stale peers")
    join = verbs.add_parser("join", help="connect to peers by multiaddr")
    join.add_argument("multiaddrs", nargs="+", metavar="MULTIADDR")
    verbs.add_parser("leave", help="leave the mesh (the daemon keeps running)")
    rnd = verbs.add_parser("round", help="start or advance a round (coordinator/stage manager)")
    rnd_verbs = rnd.add_subparsers(dest="round_verb", metavar="start|advance", required=True)
    start = rnd_verbs.add_parser("start", help="start a round")
    start.add_argument("round", nargs="?", type=int, default=0, help="round number (default: next)")
    rnd_verbs.add_parser("advance", help="advance to the next stage or round")
    verbs.add_parser("register", help="register this node's peer ID on chain")
    submit = verbs.add_parser("submit", help="queue a round's results for the chain")
    submit.add_argument("round", nargs="?", type=int, default=0, help="round (default: last completed)")
    board = verbs.add_parser("leaderboard", help="verified rewards and wins per peer")
    board.add_argument("query", nargs="?", default="", help="filter by name or peer ID")
    board.add_argument("--limit", type=int, default=0)
    export = verbs.add_parser("export", help="export the LoRA adapter as a PEFT directory")
    export.add_argument("directory")
    events = verbs.add_parser("events", help="follow the daemon's events")
    events.add_argument(
        "--kind",
        action="append",
        default=[],
        choices=["lifecycle", "peer", "round", "rollout", "rejection", "training", "chain"],
        help="only these kinds (repeatable)",
    )
    events.add_argument("--count", type=int, default=0, help="stop after this many events")
    verbs.add_parser("shutdown", help="stop the daemon gracefully")
    bundle.register(verbs)
    return p


def _socket_path(args: argparse.Namespace) -> str:
    if args.socket:
        return args.socket
    if args.data_dir:
        return os.path.join(args.data_dir, "swarmd.sock")
    if os.environ.get("SWARMCTL_SOCKET"):
        return os.environ["SWARMCTL_SOCKET"]
    from swarmd.paths import SOCKET_NAME, default_data_dir

    return str(default_data_dir() / SOCKET_NAME)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.token_file and not args.address:
        parser.error("--token-file needs --address")
    from swarmctl import client, verbs

    try:
        target = (
            client.Target(address=args.address, token_file=args.token_file)
            if args.address
            else client.Target(socket=_socket_path(args))
        )
        with client.connect(target, args.timeout) as stub:
            return verbs.run(stub, args)
    except CtlError as e:
        print(f"swarmctl: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
