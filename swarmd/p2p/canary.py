"""The py-libp2p surface that ``hardening.py``, ``host.py`` and ``actor.py`` patch or read.

Those modules replace private methods and read private attributes of py-libp2p. A patch that
only assigns (``swarm.auto_connector.maybe_connect = ...``) keeps "working" after an upgrade
renames what it replaced, and the mesh would silently lose the protection. So the mesh checks,
before it builds a host, that the installed library is the tested version and that every name
listed here still exists with the parameters the patches call it with; anything else stops the
start with an error that names what is missing. ``tests/p2p/test_canary.py`` runs the same
check, and plants a missing attribute to show that it fails.

Imported only on the network thread or in tests (it imports libp2p).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from dataclasses import dataclass

from swarmd.errors import SwarmdError

TESTED_VERSION = "0.8.1"


class LibraryMismatch(SwarmdError):
    """The installed py-libp2p is not the one the mesh's patches were written for."""


@dataclass(frozen=True)
class Method:
    """``module:Class.name`` (or ``module:name``) callable with these leading parameters."""

    path: str
    params: tuple[str, ...]


@dataclass(frozen=True)
class Field:
    """An instance attribute of ``module:Class`` (declared on the class or set in ``__init__``)."""

    path: str


PS = "libp2p.pubsub.pubsub:Pubsub"
SW = "libp2p.network.swarm:Swarm"
SURFACE: tuple[Method | Field, ...] = (
    # hardening.GuardedPubsub overrides or calls these.
    Method(f"{PS}.stream_handler", ("self", "stream")),
    Method(f"{PS}.continuously_read_stream", ("self", "stream")),
    Method(f"{PS}.push_msg", ("self", "msg_forwarder", "msg")),
    Method(f"{PS}.notify_subscriptions", ("self", "publish_message")),
    Method(f"{PS}._is_subscribed_to_msg", ("self", "msg")),
    Method(f"{PS}._is_msg_seen", ("self", "msg")),
    Method(f"{PS}._handle_dead_peer", ("self", "peer_id")),
    Method(f"{PS}.handle_subscription", ("self", "origin_id", "sub_message")),
    Method(f"{PS}._next_seqno", ("self",)),
    Method(f"{PS}.wait_until_ready", ("self",)),
    Method(f"{PS}.set_topic_validator", ("self", "topic", "validator", "is_async_validator")),
    Method(f"{PS}.subscribe", ("self", "topic_id")),
    Field(f"{PS}.peer_queues"),
    Field(f"{PS}.max_subscriptions_per_rpc"),
    Field(f"{PS}.router"),
    Field(f"{PS}.host"),
    Field(f"{PS}.manager"),
    Method("libp2p.pubsub.pubsub:env_to_send_in_RPC", ("host",)),
    Method("libp2p.pubsub.gossipsub:env_to_send_in_RPC", ("host",)),
    Method("libp2p.pubsub.utils:maybe_consume_signed_record", ("msg", "host", "peer_id")),
    Method("libp2p.utils.varint:read_varint_prefixed_bytes_limited", ("reader", "max_length")),
    # release_inbound_slots, dial_only_when_asked, disable_auto_connect, offer_addrs.
    Method(f"{SW}._do_handle_inbound_connection", ("self", "read_write_closer", "maddr", "failure_event")),
    Method(f"{SW}._build_remote_multiaddr", ("self", "read_write_closer")),
    Method(f"{SW}.upgrade_inbound_raw_conn", ("self", "raw_conn", "maddr")),
    Method(f"{SW}.dial_peer", ("self", "peer_id")),
    Method(f"{SW}.get_connections", ("self", "peer_id")),
    Field(f"{SW}.connections"),
    Field(f"{SW}.common_stream_handler"),
    Field(f"{SW}.auto_connector"),
    Field(f"{SW}.connection_gate"),
    Field(f"{SW}.retry_config"),
    Method("libp2p.network.auto_connector:AutoConnector.maybe_connect", ("self",)),
    Method("libp2p.network.config:RetryConfig", ("max_retries",)),
    Method("libp2p.host.basic_host:BasicHost.get_addrs", ("self",)),
    Method("libp2p.host.basic_host:BasicHost.get_mux", ("self",)),
    Method("libp2p.host.basic_host:BasicHost.get_network", ("self",)),
)


def _resolve(path: str) -> tuple[object, str]:
    """(owner, last name) of ``module:A.b``; raises LookupError naming the first missing part."""
    module_name, _, dotted = path.partition(":")
    try:
        owner: object = importlib.import_module(module_name)
    except ImportError as e:
        raise LookupError(f"module {module_name} cannot be imported ({e})") from None
    *parents, name = dotted.split(".")
    for part in parents:
        if not hasattr(owner, part):
            raise LookupError(f"{module_name}.{part} is missing")
        owner = getattr(owner, part)
    return owner, name


def _declared(cls: type, name: str) -> bool:
    if hasattr(cls, name):
        return True
    for klass in cls.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            return True
        init = klass.__dict__.get("__init__")
        if init is not None:
            try:
                if f"self.{name} =" in inspect.getsource(init):
                    return True
            except (OSError, TypeError):
                continue
    return False


def problems(surface: tuple[Method | Field, ...] = SURFACE) -> list[str]:
    """Every way the installed library differs from ``surface``; empty when it matches."""
    found: list[str] = []
    for item in surface:
        try:
            owner, name = _resolve(item.path)
        except LookupError as e:
            found.append(f"{item.path}: {e}")
            continue
        if isinstance(item, Field):
            if not (isinstance(owner, type) and _declared(owner, name)):
                found.append(f"{item.path}: attribute is missing")
            continue
        target = getattr(owner, name, None)
        if target is None or not callable(target):
            found.append(f"{item.path}: callable is missing")
            continue
        try:
            params = tuple(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            continue  # builtins without a signature: presence is all that can be checked
        if params[: len(item.params)] != item.params:
            found.append(f"{item.path}: parameters are {params}, the patches expect {item.params}")
    return found


def installed_version() -> str:
    try:
        return importlib.metadata.version("libp2p")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def verify(version: str | None = None) -> None:
    """Raise LibraryMismatch unless the installed py-libp2p is the tested one, whole."""
    version = installed_version() if version is None else version
    if version != TESTED_VERSION:
        raise LibraryMismatch(
            f"py-libp2p {version} is installed; the mesh's patches (swarmd/p2p/hardening.py) are "
            f"written for {TESTED_VERSION}: install libp2p=={TESTED_VERSION}"
        )
    missing = problems()
    if missing:
        raise LibraryMismatch(
            f"py-libp2p {version} lacks what the mesh's patches need: " + "; ".join(missing)
        )
