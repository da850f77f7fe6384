"""Generate Python, gRPC and mypy stubs from protos/ into libs/realtime-protos/src.

Also lints the protos against the Buf STANDARD rules we rely on (package/directory match,
versioned packages, enum zero values and prefixes, Service suffix, per-RPC request/response
messages), because `buf` itself is not a PyPI package.

    python scripts/gen_protos.py           # regenerate in place
    python scripts/gen_protos.py --check   # fail (exit 1) when checked-in code drifts
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.resources
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "libs" / "realtime-protos" / "src"
PACKAGE_DIR = "realtime"


def _include_dirs() -> list[str]:
    import google.rpc  # googleapis-common-protos ships google/rpc/*.proto

    grpc_tools_proto = str(importlib.resources.files("grpc_tools") / "_proto")
    common_protos = str(Path(google.rpc.__path__[0]).parent.parent)
    return [str(PROTO_ROOT), grpc_tools_proto, common_protos]


def _protos() -> list[str]:
    return sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))


def _generate(out: Path) -> descriptor_pb2.FileDescriptorSet:
    bindir = Path(sys.executable).parent
    descriptor_file = out / "descriptors.binpb"
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc",
        *[f"-I{d}" for d in _include_dirs()],
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy={bindir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bindir / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out=only_async:{out}",
        f"--descriptor_set_out={descriptor_file}",
        "--include_imports",
        *_protos(),
    ]
    subprocess.run(cmd, check=True, cwd=PROTO_ROOT)
    fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor_file.read_bytes())
    descriptor_file.unlink()
    # Packages mirror directories, so imports are absolute (`from realtime.meeting.v1 import …`)
    # and need no rewriting; every directory just needs to be a regular package.
    for directory in [out / PACKAGE_DIR, *(p for p in (out / PACKAGE_DIR).rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    (out / PACKAGE_DIR / "py.typed").touch()
    return fds


_UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def lint(fds: descriptor_pb2.FileDescriptorSet) -> list[str]:
    problems: list[str] = []
    own = [f for f in fds.file if f.name.startswith(PACKAGE_DIR + "/")]
    for f in own:
        directory = os.path.dirname(f.name).replace("/", ".")
        if f.package != directory:
            problems.append(f"{f.name}: package {f.package} does not match directory {directory}")
        if not re.search(r"\.v\d+$", f.package):
            problems.append(f"{f.name}: package {f.package} lacks a version suffix")

        def check_enum(enum: descriptor_pb2.EnumDescriptorProto, where: str) -> None:
            prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"
            if not enum.value or enum.value[0].number != 0 or not enum.value[0].name.endswith("_UNSPECIFIED"):
                problems.append(f"{where}.{enum.name}: zero value must be {prefix}UNSPECIFIED")
            for v in enum.value:
                if not v.name.startswith(prefix) or not _UPPER_SNAKE.match(v.name):
                    problems.append(f"{where}.{enum.name}.{v.name}: values must be prefixed {prefix}")

        def walk(msgs, where: str) -> None:
            for m in msgs:
                for e in m.enum_type:
                    check_enum(e, f"{where}.{m.name}")
                walk(m.nested_type, f"{where}.{m.name}")

        for e in f.enum_type:
            check_enum(e, f.name)
        walk(f.message_type, f.name)
        seen_types: set[str] = set()
        for s in f.service:
            if not s.name.endswith("Service"):
                problems.append(f"{f.name}: service {s.name} must end in Service")
            for m in s.method:
                req, resp = m.input_type.rsplit(".", 1)[-1], m.output_type.rsplit(".", 1)[-1]
                if req != f"{m.name}Request":
                    problems.append(f"{f.name}: {s.name}.{m.name} takes {req}, expected {m.name}Request")
                if resp != f"{m.name}Response":
                    problems.append(f"{f.name}: {s.name}.{m.name} returns {resp}, expected {m.name}Response")
                for t in (m.input_type, m.output_type):
                    if t in seen_types:
                        problems.append(f"{f.name}: {t} used by more than one RPC")
                    seen_types.add(t)
    return problems


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        fds = _generate(out)
        problems = lint(fds)
        if problems:
            print("proto lint failed:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        target = OUT_ROOT / PACKAGE_DIR
        if args.check:
            fresh, current = _tree(out / PACKAGE_DIR), _tree(target) if target.exists() else set()
            drift = sorted(fresh ^ current)
            drift += sorted(
                name for name in fresh & current if not filecmp.cmp(out / PACKAGE_DIR / name, target / name, shallow=False)
            )
            if drift:
                print("generated code drifts from protos/ (run `make proto`):\n  " + "\n  ".join(drift), file=sys.stderr)
                return 1
            print(f"protos: {len(_protos())} files, generated code up to date")
            return 0
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(out / PACKAGE_DIR, target)
        print(f"protos: generated {len(_protos())} files into {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
