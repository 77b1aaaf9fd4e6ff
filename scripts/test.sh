#!/usr/bin/env bash
# scripts/test.sh - the test command (README.md, .ci/run). As root:
#
#   scripts/test.sh                      # the whole suite
#   scripts/test.sh --test ops           # arguments before a "--" go to cargo test
#   scripts/test.sh --test group -- hook # arguments after it go to the test binaries
#
# 1. Installs, through apt-get, the programs the tests run when they are missing: iproute2,
#    procps (sysctl), keepalived, tcpdump, nftables, man-db, groff-base, python3, util-linux
#    (setpriv, chrt), dash, bsdutils (logger), conntrackd, and gcc/libc6-dev if cargo
#    has no linker.
#    Nothing is installed when all of them are there, when not run as root, or with
#    VRRPD_TEST_NO_INSTALL=1 (the tests that need a missing program then print "skipped: ...").
# 2. Runs  cargo test --workspace [ARGS] -- --test-threads=2 [TEST ARGS] (without the
#    --test-threads=2 when TEST ARGS give their own).
#
# The lab tests need root (network namespaces); without root they print "skipped: ..." and pass.
# systemd-analyze is not installed (the unit check is skipped without it).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/build-env.sh
. "$ROOT/scripts/build-env.sh"

# "program package": a program the tests (or the scripts they run) execute, and its Debian package.
# A program given as an absolute path must be exactly there (the tests run /usr/bin/python3).
REQUIRED=(
    "ip iproute2"
    "sysctl procps"
    "keepalived keepalived"
    "tcpdump tcpdump"
    "nft nftables"
    "man man-db"
    "groff groff-base"
    "/usr/bin/python3 python3-minimal"
    "setpriv util-linux"
    "chrt util-linux"
    "dash dash"
    "logger bsdutils"
    "timeout coreutils"
    "conntrackd conntrackd"
)

have() { # program
    if [[ $1 == /* ]]; then [[ -x $1 ]]; else command -v "$1" >/dev/null 2>&1; fi
}

missing_packages() {
    local entry prog pkg out=()
    for entry in "${REQUIRED[@]}"; do
        prog=${entry% *} pkg=${entry#* }
        have "$prog" || out+=("$pkg")
    done
    # cargo links with cc; a Rust installed by rustup alone has none.
    have cc || out+=(gcc libc6-dev)
    [[ ${#out[@]} -eq 0 ]] || printf '%s\n' "${out[@]}" | sort -u
}

mapfile -t need < <(missing_packages)
if [[ ${#need[@]} -gt 0 ]]; then
    if [[ ${VRRPD_TEST_NO_INSTALL:-0} == 1 ]]; then
        echo "test.sh: missing ${need[*]} (VRRPD_TEST_NO_INSTALL=1: not installed; their tests are skipped)"
    elif [[ $(id -u) -ne 0 ]]; then
        echo "test.sh: missing ${need[*]}; not root: not installed (their tests are skipped)"
    elif ! command -v apt-get >/dev/null 2>&1; then
        echo "test.sh: missing ${need[*]}; no apt-get here: install them by hand (their tests are skipped)"
    else
        echo "test.sh: installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq </dev/null
        apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null
        mapfile -t still < <(missing_packages)
        if [[ ${#still[@]} -gt 0 ]]; then
            echo "test.sh: still missing after apt-get install: ${still[*]}" >&2
            exit 1
        fi
    fi
fi

cargo=$(find_cargo) || { echo "test.sh: cargo not found (install Rust: https://rustup.rs)" >&2; exit 1; }

# Split our arguments at the first "--": cargo's before, the test binaries' after.
cargo_args=() test_args=()
while [[ $# -gt 0 ]]; do
    if [[ $1 == -- ]]; then
        shift
        test_args=("$@")
        break
    fi
    cargo_args+=("$1")
    shift
done

# Two threads unless the caller chose (libtest refuses --test-threads twice).
threads=(--test-threads=2)
for a in "${test_args[@]}"; do
    [[ $a == --test-threads* ]] && threads=()
done
echo "test.sh: cargo test --workspace ${cargo_args[*]} -- ${threads[*]} ${test_args[*]}"
exec "$cargo" test --workspace "${cargo_args[@]}" -- "${threads[@]}" "${test_args[@]}"
