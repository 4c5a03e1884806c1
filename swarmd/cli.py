"""``swarmd`` command line: parse flags, resolve config, take the data-dir lock, run the daemon.

Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration or usage,
3 the data directory is held by another daemon.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from swarmd import __version__

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 3

log = logging.getLogger("swarmd")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="swarmd",
        description="swarmd: a node of a decentralized RL post-training swarm.",
        epilog="Environment overrides: SWARMD_<SECTION>__<KEY>=VALUE (e.g. SWARMD_LOG__LEVEL=debug).",
    )
    p.add_argument("--config", type=Path, help="TOML config file (default: $SWARMD_CONFIG, else none)")
    p.add_argument("--data-dir", type=Path, help="data directory (overrides node.data_dir)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", choices=["human", "json"])
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config key (repeatable); VALUE is read as TOML when it parses",
    )
    p.add_argument("--check", action="store_true", help="print the resolved configuration and exit")
    p.add_argument(
        "--config-reference", action="store_true", help="print the configuration reference (Markdown)"
    )
    p.add_argument("--version", action="version", version=f"swarmd {__version__}")
    return p


def _fail(message: str, code: int) -> int:
    print(f"swarmd: error: {message}", file=sys.stderr)
    return code


def _check_files(config) -> None:
    """Open what start-up will open, so --check fails where the daemon would."""
    from swarmd import identity
    from swarmd.control.server import load_or_create_token

    if config.identity_file.exists() or config.identity_file.is_symlink():
        identity.load(config.identity_file)
    if config.control.tcp_address and config.token_path.exists():
        load_or_create_token(config.token_path)
    for check in _extra_checks():
        check(config)


def _extra_checks():
    """Subsystems' own pre-flight checks (key files and the like)."""
    from swarmd.preflight import CHECKS

    return CHECKS


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from swarmd import config as cfg

    if args.config_reference:
        from swarmd.configdoc import render_reference

        print(render_reference())
        return EXIT_OK

    cli: dict[str, object] = {}
    try:
        for item in args.set:
            key, value = cfg.parse_assignment(item)
            cli[key] = value
        if args.data_dir is not None:
            cli["node.data_dir"] = str(args.data_dir)
        if args.log_level:
            cli["log.level"] = args.log_level
        if args.log_format:
            cli["log.format"] = args.log_format
        config = cfg.load(args.config, cli=cli)
    except cfg.ConfigError as e:
        return _fail(str(e), EXIT_CONFIG)

    from swarmd import identity as ident
    from swarmd.control.server import ControlPlaneError

    if args.check:
        from swarmd.configdoc import render_toml

        try:
            _check_files(config)
        except (ident.IdentityError, ControlPlaneError, cfg.ConfigError) as e:
            return _fail(str(e), EXIT_CONFIG)
        print(render_toml(config))
        print("# configuration OK", file=sys.stderr)
        return EXIT_OK

    from swarmd import logs

    try:
        logs.setup(config.log.level, config.log.format, config.log.libp2p_level,
                   config.log_path, config.log.max_bytes, config.log.backups)
    except OSError as e:
        return _fail(f"cannot open the log file {config.log_path} (log.file): {e.strerror or e}", EXIT_CONFIG)
    return run(config)


def run(config) -> int:
    from swarmd import identity as ident
    from swarmd.config import ConfigError
    from swarmd.control.server import ControlPlaneError
    from swarmd.lockfile import DataDirLock, LockError
    from swarmd.paths import make_dir

    try:
        make_dir(config.data_dir)
    except OSError as e:
        return _fail(f"cannot create data directory {config.data_dir}: {e.strerror}", EXIT_CONFIG)
    lock = DataDirLock(config.lock_path)
    try:
        lock.acquire()
    except LockError as e:
        return _fail(str(e), EXIT_LOCKED)
    except OSError as e:
        return _fail(f"data directory {config.data_dir} is not writable: cannot create the lock file "
                     f"{config.lock_path} ({e.strerror or e}); fix its owner or mode, or set --data-dir",
                     EXIT_CONFIG)
    try:
        try:
            _check_files(config)
            identity, created = ident.load_or_create(config.identity_file)
        except (ident.IdentityError, ControlPlaneError, ConfigError) as e:
            return _fail(str(e), EXIT_CONFIG)
        except OSError as e:
            return _fail(f"cannot create the identity key {config.identity_file}: {e.strerror or e}", EXIT_CONFIG)
        log.info(
            "%s identity %s (%s)",
            "created" if created else "loaded",
            identity.peer_id,
            identity.name,
            extra={"key_file": str(config.identity_file)},
        )
        import uvloop

        from swarmd.daemon import Daemon

        async def _main() -> int:
            return await Daemon(config, identity).run()

        return uvloop.run(_main())
    finally:
        lock.release()


if __name__ == "__main__":
    sys.exit(main())
