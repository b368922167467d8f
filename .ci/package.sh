#!/bin/sh
# Packaging checks: every publishable crate packages, and the declared
# rust-version is not below any locked dependency's rust_version.
set -eu
cd "$(dirname "$0")/.."

# --no-verify: memlink-cli and memlink-ffi depend on a memlink that is not on
# crates.io yet, so verifying them (building from the registry) cannot pass
# until memlink is published. Packaging still checks metadata and contents.
cargo package --workspace --no-verify --allow-dirty --quiet

cargo metadata --format-version 1 --locked | python3 -c '
import json, sys
meta = json.load(sys.stdin)
def version(text):
    return tuple(int(part) for part in text.split("."))[:2]
ours = {p["name"]: p for p in meta["packages"] if p["source"] is None}
declared = min(version(p["rust_version"]) for p in ours.values())
bad = [(p["name"], p["version"], p["rust_version"]) for p in meta["packages"]
       if p["source"] and p.get("rust_version") and version(p["rust_version"]) > declared]
for name, ver, rv in bad:
    print(f"{name} {ver} needs Rust {rv}, above the declared rust-version", file=sys.stderr)
sys.exit(1 if bad else 0)
'
echo "package.sh: ok"
