#!/usr/bin/env bash
# Builds vrrpd and atropos in release mode, statically linked (each vrrpd process then stays under
# 2 MiB of RSS: no dynamic loader, only the libc code it uses), and prints the directory of the binaries.
# The explicit --target keeps the static flag away from build scripts and proc macros.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --workspace --target "$host" >&2
echo "$PWD/target/$host/release"
