"""Generate (or check) the Python code for proto/ into swarmd/_pb.

The generated modules import each other as ``swarmd._pb.swarm.v1...`` because
proto/ is mapped onto that package path (``-Iswarmd/_pb=proto``), so no
top-level ``swarm`` package is installed.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"
OUT_PACKAGE = "swarmd/_pb"
SOURCE_SUFFIXES = {".py", ".pyi"}


def _sources(base: Path) -> list[Path]:
    """Generated source files of the package under ``base``, relative to ``base``.

    Byte-code caches written by an interpreter that imported the package are
    not sources and are ignored.
    """
    return sorted(
        p.relative_to(base)
        for p in (base / OUT_PACKAGE).rglob("*")
        if p.is_file() and p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts
    )


def generate(out_root: Path) -> list[Path]:
    from grpc_tools import protoc

    files = sorted(p.relative_to(PROTO) for p in PROTO.rglob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{OUT_PACKAGE}={PROTO}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *[f"{OUT_PACKAGE}/{f}" for f in files],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    generated = _sources(out_root)
    # Package markers for every generated directory.
    for d in {p.parent for p in generated} | {Path(OUT_PACKAGE)}:
        while str(d).startswith(OUT_PACKAGE):
            (out_root / d / "__init__.py").touch()
            d = d.parent
    return _sources(out_root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if swarmd/_pb is out of date")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_root = Path(tmp)
        files = generate(tmp_root)
        if args.check:
            stale = [
                str(f)
                for f in files
                if not (ROOT / f).exists() or not filecmp.cmp(tmp_root / f, ROOT / f, shallow=False)
            ]
            extra = [str(p) for p in _sources(ROOT) if p not in files]
            if stale or extra:
                print("generated code is out of date; run `make proto`:", file=sys.stderr)
                for f in stale + extra:
                    print(f"  {f}", file=sys.stderr)
                return 1
            print(f"generated code is up to date ({len(files)} files)")
            return 0
        shutil.rmtree(ROOT / OUT_PACKAGE, ignore_errors=True)
        for f in files:
            (ROOT / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(tmp_root / f, ROOT / f)
        print(f"wrote {len(files)} files under {OUT_PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
