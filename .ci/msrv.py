#!/usr/bin/env python3
"""Checks that the workspace's declared `rust-version` is honest.

Only one toolchain exists on the CI machine, so the minimum cannot be proved by
building with it; instead: the declared value must be at least the highest
`rust-version` any locked dependency (for this platform) declares, since cargo
would refuse to build those with an older compiler. Clippy's `incompatible_msrv`
lint (on by default, reads the same field) covers our own use of newer std APIs.
"""
import json
import subprocess
import sys


def version(text):
    """`1.94` and `1.94.0` are the same version: pad to three parts."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    host = next(
        line.split(": ", 1)[1]
        for line in subprocess.run(
            ["rustc", "-vV"], check=True, capture_output=True, text=True
        ).stdout.splitlines()
        if line.startswith("host: ")
    )
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", host],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    members = set(metadata["workspace_members"])
    # Only packages reachable in the resolved graph for this platform.
    resolved = {node["id"] for node in metadata["resolve"]["nodes"]}
    declared = {
        package["rust_version"]
        for package in metadata["packages"]
        if package["id"] in members
    }
    if len(declared) != 1 or None in declared:
        sys.exit(f"msrv: every workspace member must inherit one rust-version, found {sorted(map(str, declared))}")
    declared = declared.pop()
    needed = max(
        (
            (version(package["rust_version"]), package["name"], package["version"])
            for package in metadata["packages"]
            if package["id"] in resolved
            and package["id"] not in members
            and package.get("rust_version")
        ),
        default=((0,), "", ""),
    )
    needed_text = ".".join(map(str, needed[0]))
    if version(declared) < needed[0]:
        sys.exit(
            f"msrv: Cargo.toml says rust-version = {declared!r}, but {needed[1]} {needed[2]} "
            f"needs Rust {needed_text}; raise rust-version"
        )
    print(f"msrv: rust-version {declared} >= {needed_text} (the highest a locked dependency needs: {needed[1]} {needed[2]})")


if __name__ == "__main__":
    main()
