#!/usr/bin/env python3
"""Check that every dependency from the crate registry is pinned exactly, once.

There is no Cargo.lock in the repository (it would record the registry host), so the
manifests alone must make a build reproducible. This script reads every Cargo.toml in
the repository (the root workspace, its members and the separate workspaces: fuzz/,
nostd-check/, adapter-embassy/firmware/, adapter-cloudflare/examples/worker/,
benches/wasm-size/*) and fails when:

1. a registry dependency has a version requirement other than an exact `=x.y.z`;
2. a member of the root workspace (or of a separate workspace that has its own
   `[workspace.dependencies]` table) declares a registry dependency itself instead of
   taking it from that table with `workspace = true`;
3. the same crate is pinned at different versions in different manifests;
4. a git dependency names no `rev`.

Dependencies on our own crates by path are not registry dependencies here (their
`version` is what the crate registry sees once published) and are not checked.

    python3 scripts/check-pins.py

Python 3.11 or later, standard library only. Exit status 0 when all is well, 1 otherwise.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", "target", "node_modules", "book"}
DEP_TABLES = (
    "dependencies",
    "dev-dependencies",
    "dev_dependencies",
    "build-dependencies",
    "build_dependencies",
)
# `=1.2.3`, with an optional pre-release and build metadata (`=0.11.1+wasi-snapshot`).
EXACT = re.compile(r"^=\s*\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def manifests() -> list[Path]:
    found = []
    for directory, subdirs, files in os.walk(ROOT):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS)
        if "Cargo.toml" in files:
            found.append(Path(directory) / "Cargo.toml")
    return found


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def dependency_tables(doc: dict) -> list[tuple[str, dict]]:
    """(where, table) for every dependency table of a package manifest."""
    tables = [(name, doc[name]) for name in DEP_TABLES if name in doc]
    for target, body in doc.get("target", {}).items():
        tables += [(f"target.'{target}'.{name}", body[name]) for name in DEP_TABLES if name in body]
    return tables


def root_members(doc: dict, base: Path) -> set[Path]:
    members = set()
    for pattern in doc.get("workspace", {}).get("members", []):
        for hit in glob.glob(str(base / pattern)):
            manifest = Path(hit) / "Cargo.toml"
            if manifest.is_file():
                members.add(manifest.resolve())
    for pattern in doc.get("workspace", {}).get("exclude", []):
        members.discard((base / pattern / "Cargo.toml").resolve())
    return members


def main() -> int:
    errors: list[str] = []
    # crate name -> version -> places that pin it
    pins: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    docs: dict[Path, dict] = {}
    for path in manifests():
        try:
            with open(path, "rb") as f:
                docs[path.resolve()] = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            errors.append(f"{rel(path)}: not valid TOML: {e}")

    root_manifest = (ROOT / "Cargo.toml").resolve()
    members = root_members(docs.get(root_manifest, {}), ROOT)

    def check_entry(path: Path, where: str, key: str, spec, in_workspace_table: bool,
                    must_inherit: bool) -> None:
        place = f"{rel(path)} [{where}] {key}"
        if isinstance(spec, str):
            spec = {"version": spec}
        if not isinstance(spec, dict):
            errors.append(f"{place}: unreadable dependency entry {spec!r}")
            return
        crate = spec.get("package", key)
        if spec.get("workspace") is True:
            if in_workspace_table:
                errors.append(f"{place}: `workspace = true` inside [workspace.dependencies]")
            return
        if "path" in spec:
            return  # one of our crates
        if "git" in spec:
            if "rev" not in spec:
                errors.append(f"{place}: git dependency without `rev` (nothing pins it)")
            return
        if must_inherit:
            errors.append(
                f"{place}: declared in the member itself; declare it once in the "
                f"workspace's [workspace.dependencies] with an exact `=x.y.z` and use "
                f"`{key} = {{ workspace = true }}` here"
            )
        version = spec.get("version")
        if version is None:
            errors.append(f"{place}: no version (an exact `=x.y.z` is required)")
            return
        if not EXACT.match(version.strip()):
            errors.append(f"{place}: version {version!r} is not an exact pin `=x.y.z`")
            return
        pins[crate][version.strip().lstrip("=").strip()].append(f"{rel(path)} [{where}]")

    for path, doc in sorted(docs.items()):
        own_table = doc.get("workspace", {}).get("dependencies")
        for key, spec in (own_table or {}).items():
            check_entry(path, "workspace.dependencies", key, spec, True, False)
        if "package" not in doc:
            continue
        # A member must inherit when its workspace has a dependency table: the root
        # workspace's members, and the separate single-package workspaces with their own.
        must_inherit = path in members or own_table is not None
        for where, table in dependency_tables(doc):
            for key, spec in table.items():
                check_entry(path, where, key, spec, False, must_inherit)

    for crate, versions in sorted(pins.items()):
        if len(versions) > 1:
            lines = "; ".join(f"={v} in {', '.join(places)}" for v, places in sorted(versions.items()))
            errors.append(f"{crate}: pinned at different versions: {lines}")

    if errors:
        print(f"check-pins: {len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        print(
            "Every registry dependency is pinned `=x.y.z`, once per workspace, at the same "
            "version everywhere (see CONTRIBUTING.md, \"Updating dependencies\").",
            file=sys.stderr,
        )
        return 1
    count = sum(len(v) for by_version in pins.values() for v in by_version.values())
    print(f"check-pins: {len(docs)} manifests, {len(pins)} crates in {count} exact pins, consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
