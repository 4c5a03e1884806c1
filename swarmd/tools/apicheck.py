"""The API compatibility check: proto/ against the committed descriptor set.

``proto/api/swarm.v1.binpb`` is the FileDescriptorSet of the last released
API and ``proto/api/swarm.v1.version`` its version (MAJOR.MINOR). The check
compiles proto/ and compares: a change that breaks existing clients or peers
(a removed message, field, enum value or RPC; a field's number, name, type,
label or oneof changed; an RPC's types or streaming changed) fails unless
``API_MAJOR`` in swarmd/control/api.py is above the baseline's. Additions
pass; they are listed, with a reminder to bump ``API_MINOR``.

    python -m swarmd.tools.apicheck            # check (make lint runs it)
    python -m swarmd.tools.apicheck --update   # record proto/ as the new baseline
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"
BASELINE = PROTO / "api" / "swarm.v1.binpb"
BASELINE_VERSION = PROTO / "api" / "swarm.v1.version"

_FDP = descriptor_pb2.FieldDescriptorProto


@dataclass
class ApiReport:
    breaking: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)


def compile_protos(proto_dir: Path) -> descriptor_pb2.FileDescriptorSet:
    """proto_dir's .proto files (under swarm/) compiled into one descriptor set."""
    from grpc_tools import protoc

    files = sorted(str(p.relative_to(proto_dir)) for p in proto_dir.rglob("*.proto"))
    if not files:
        raise SystemExit(f"no .proto files under {proto_dir}")
    include = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        args = ["protoc", f"-I{proto_dir}", f"-I{include}", f"--descriptor_set_out={out}", *files]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed (see above)")
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(out.read_bytes())
    # Source info and options do not change the wire or the generated API.
    for f in fds.file:
        f.ClearField("source_code_info")
    fds.file.sort(key=lambda f: f.name)
    return fds


def _messages(fds: descriptor_pb2.FileDescriptorSet) -> dict[str, descriptor_pb2.DescriptorProto]:
    out: dict[str, descriptor_pb2.DescriptorProto] = {}

    def walk(prefix: str, msgs) -> None:
        for m in msgs:
            name = f"{prefix}.{m.name}"
            out[name] = m
            walk(name, m.nested_type)

    for f in fds.file:
        walk(f.package, f.message_type)
    return out


def _enums(fds: descriptor_pb2.FileDescriptorSet) -> dict[str, descriptor_pb2.EnumDescriptorProto]:
    out: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
    for f in fds.file:
        for e in f.enum_type:
            out[f"{f.package}.{e.name}"] = e
    for name, m in _messages(fds).items():
        for e in m.enum_type:
            out[f"{name}.{e.name}"] = e
    return out


def _services(fds: descriptor_pb2.FileDescriptorSet) -> dict[str, descriptor_pb2.ServiceDescriptorProto]:
    return {f"{f.package}.{s.name}": s for f in fds.file for s in f.service}


def _field_shape(m: descriptor_pb2.DescriptorProto, f: descriptor_pb2.FieldDescriptorProto) -> str:
    kind = f.type_name.lstrip(".") if f.type_name else _FDP.Type.Name(f.type).removeprefix("TYPE_").lower()
    label = "repeated " if f.label == _FDP.LABEL_REPEATED else ""
    oneof = ""
    if f.HasField("oneof_index") and not f.proto3_optional:
        oneof = f" (oneof {m.oneof_decl[f.oneof_index].name})"
    return f"{label}{kind}{oneof}"


def compare(old: descriptor_pb2.FileDescriptorSet, new: descriptor_pb2.FileDescriptorSet) -> ApiReport:
    """What changed from ``old`` to ``new``, split into breaking changes and additions."""
    r = ApiReport()
    old_m, new_m = _messages(old), _messages(new)
    for name, om in old_m.items():
        nm = new_m.get(name)
        if nm is None:
            r.breaking.append(f"message {name} removed")
            continue
        new_by_number = {f.number: f for f in nm.field}
        new_by_name = {f.name: f for f in nm.field}
        for of in om.field:
            nf = new_by_number.get(of.number)
            if nf is None:
                moved = new_by_name.get(of.name)
                if moved is not None:
                    r.breaking.append(f"field {name}.{of.name} renumbered {of.number} -> {moved.number}")
                else:
                    r.breaking.append(f"field {name}.{of.name} (= {of.number}) removed")
                continue
            if nf.name != of.name:
                r.breaking.append(f"field {name} #{of.number} renamed {of.name} -> {nf.name} (breaks JSON and code)")
            old_shape, new_shape = _field_shape(om, of), _field_shape(nm, nf)
            if old_shape != new_shape:
                r.breaking.append(f"field {name}.{of.name} changed from {old_shape} to {new_shape}")
        old_numbers = {f.number for f in om.field}
        r.added += [f"field {name}.{f.name} = {f.number}" for f in nm.field if f.number not in old_numbers]
    r.added += [f"message {name}" for name in new_m if name not in old_m]

    old_e, new_e = _enums(old), _enums(new)
    for name, oe in old_e.items():
        ne = new_e.get(name)
        if ne is None:
            r.breaking.append(f"enum {name} removed")
            continue
        new_values = {v.name: v.number for v in ne.value}
        for v in oe.value:
            if v.name not in new_values:
                r.breaking.append(f"enum value {name}.{v.name} removed")
            elif new_values[v.name] != v.number:
                r.breaking.append(f"enum value {name}.{v.name} renumbered {v.number} -> {new_values[v.name]}")
        old_values = {v.name for v in oe.value}
        r.added += [f"enum value {name}.{v.name}" for v in ne.value if v.name not in old_values]
    r.added += [f"enum {name}" for name in new_e if name not in old_e]

    old_s, new_s = _services(old), _services(new)
    for name, osv in old_s.items():
        nsv = new_s.get(name)
        if nsv is None:
            r.breaking.append(f"service {name} removed")
            continue
        new_methods = {m.name: m for m in nsv.method}
        for om_ in osv.method:
            nm_ = new_methods.get(om_.name)
            if nm_ is None:
                r.breaking.append(f"rpc {name}.{om_.name} removed")
                continue
            for attr in ("input_type", "output_type", "client_streaming", "server_streaming"):
                if getattr(om_, attr) != getattr(nm_, attr):
                    r.breaking.append(
                        f"rpc {name}.{om_.name} {attr} changed from {getattr(om_, attr)} to {getattr(nm_, attr)}"
                    )
        old_names = {m.name for m in osv.method}
        r.added += [f"rpc {name}.{m.name}" for m in nsv.method if m.name not in old_names]
    r.added += [f"service {name}" for name in new_s if name not in old_s]
    return r


def parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.strip().partition(".")
    return int(major), int(minor or 0)


def current_version() -> tuple[int, int]:
    from swarmd.control.api import API_MAJOR, API_MINOR

    return API_MAJOR, API_MINOR


def check(proto_dir: Path, baseline: Path, baseline_version: tuple[int, int],
          version: tuple[int, int], out=sys.stdout) -> int:
    """0 when proto_dir is compatible with the baseline (or the major version was bumped), else 1."""
    old = descriptor_pb2.FileDescriptorSet()
    old.ParseFromString(baseline.read_bytes())
    report = compare(old, compile_protos(proto_dir))
    for line in report.added:
        print(f"  added: {line}", file=out)
    if report.added and version <= baseline_version:
        print(f"note: the API grew since {baseline_version[0]}.{baseline_version[1]}; bump API_MINOR in "
              f"swarmd/control/api.py and run `python -m swarmd.tools.apicheck --update` when releasing", file=out)
    if report.breaking:
        if version[0] > baseline_version[0]:
            print(f"breaking changes accepted: API major version {baseline_version[0]} -> {version[0]}", file=out)
            for line in report.breaking:
                print(f"  breaking: {line}", file=out)
            return 0
        print(f"BREAKING API CHANGES against API {baseline_version[0]}.{baseline_version[1]} ({baseline}):",
              file=out)
        for line in report.breaking:
            print(f"  {line}", file=out)
        print("Keep the old field/RPC (deprecate it, add a new one), or bump API_MAJOR in "
              "swarmd/control/api.py for a new major API (docs/api.md).", file=out)
        return 1
    print(f"API compatible with {baseline_version[0]}.{baseline_version[1]} "
          f"({len(report.added)} additions)", file=out)
    return 0


def update(proto_dir: Path, baseline: Path, version_file: Path, version: tuple[int, int]) -> None:
    baseline.parent.mkdir(parents=True, exist_ok=True)
    baseline.write_bytes(compile_protos(proto_dir).SerializeToString(deterministic=True))
    version_file.write_text(f"{version[0]}.{version[1]}\n")
    print(f"wrote {baseline} and {version_file} (API {version[0]}.{version[1]})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="record proto/ as the new baseline")
    parser.add_argument("--proto-dir", type=Path, default=PROTO, help="the .proto tree to check (default: proto/)")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="the committed descriptor set")
    parser.add_argument("--api-version", help="MAJOR.MINOR of the tree (default: swarmd/control/api.py)")
    args = parser.parse_args(argv)
    version = parse_version(args.api_version) if args.api_version else current_version()
    version_file = args.baseline.with_suffix(".version")
    if args.update:
        update(args.proto_dir, args.baseline, version_file, version)
        return 0
    if not args.baseline.exists():
        print(f"no baseline at {args.baseline}; create it with --update", file=sys.stderr)
        return 1
    return check(args.proto_dir, args.baseline, parse_version(version_file.read_text()), version)


if __name__ == "__main__":
    sys.exit(main())
