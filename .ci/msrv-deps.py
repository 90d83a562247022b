#!/usr/bin/env python3
"""Checks that no crate the library builds with (all features, build dependencies included,
dev-dependencies left out) declares a `rust-version` above the package's own.

No older toolchain can be installed on the project's machines, so this and clippy's
`incompatible_msrv` lint (which checks the crate's own use of the standard library against
`rust-version`) are what stand behind the MSRV written in Cargo.toml.
"""
import json
import subprocess
import sys


def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
root = meta["resolve"]["root"]
msrv = version(packages[root]["rust_version"])

reachable, stack = set(), [root]
while stack:
    node = stack.pop()
    if node in reachable:
        continue
    reachable.add(node)
    for dep in nodes[node]["deps"]:
        if any(kind["kind"] in (None, "build") for kind in dep["dep_kinds"]):
            stack.append(dep["pkg"])

above = sorted(
    (packages[p]["name"], packages[p]["version"], packages[p]["rust_version"])
    for p in reachable
    if packages[p].get("rust_version") and version(packages[p]["rust_version"]) > msrv
)
for name, ver, needs in above:
    print(f"{name} {ver} needs Rust {needs}", file=sys.stderr)
print(
    f"{len(reachable) - 1} dependencies (all features): "
    f"{len(above)} declare a rust-version above {packages[root]['rust_version']}"
)
sys.exit(1 if above else 0)
