#!/usr/bin/env bash
# Failover benchmark: ours (vrrpd -M 2, and -M N for the many-LAN part) against a keepalived vrrp_sync_group,
# in a namespace lab.
#
# Usage (as root):
#   scripts/bench.sh                      # 5 trials per scenario, VRRPv2 (1 s) then VRRPv3 (10 ms, 100 ms)
#   scripts/bench.sh --v3                 # only the VRRPv3 part (same as BENCH_PART=v3; --v2 for the v2 part)
#   scripts/bench.sh --lans               # only the many-LAN part (BENCH_PART=lans): 32 LANs per host, link loss
#   BENCH_LANS=16 scripts/bench.sh --lans #   on one LAN of the master, v2 at 1 s and v3 at 10 ms; 16 LANs instead
#   scripts/bench.sh --lans-v3            #   only its v3 at 10 ms (--lans-v2: only its v2 at 1 s)
#   scripts/bench.sh --track              # only the service-tracking part (BENCH_PART=track): the tracked service dies
#   scripts/bench.sh --v6                 # only the dual-stack part (BENCH_PART=v6): IPv4 + IPv6 VIPs on both LANs,
#                                         #   host death (SIGKILL) at 10 ms, time until the peer owns every IPv6 / IPv4 VIP
#   BENCH_WINDOW=10 scripts/bench.sh --v3 # v3 steady window (largest advert gap, CPU) of 10 s instead of 60 s
#   BENCH_TRIALS=3 scripts/bench.sh       # 3 trials per scenario
#   BENCH_ONLY=ours scripts/bench.sh      # only ours (or BENCH_ONLY=keepalived)
#   BENCH_TIMELINE=1 scripts/bench.sh     # also print the timeline of every scenario's worst trial
#   VRRPD_LAB_KEEP=1 scripts/bench.sh     # keep the lab dirs (daemon logs, captures) under $TMPDIR
#   BENCH_RUNDIR=disk scripts/bench.sh    # vrrpd run dirs in the lab dir (disk) instead of tmpfs (/dev/shm)
#
# It builds the static release binaries with scripts/build-release.sh (the vrrpd we ship, with its
# memory footprint), then runs `cargo bench --bench failover` with VRRPD_BIN pointing at that vrrpd.
# The benchmark prints raw per-trial figures and a table (median / worst, ratio keepalived/ours,
# targets of README.md, "Measured failover"). It never fails on times. keepalived is skipped when not installed.
# Figures depend on the machine's load: the table prints the load average at start and end.
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
    case "$arg" in
        --v2) export BENCH_PART=v2 ;;
        --v3) export BENCH_PART=v3 ;;
        --lans) export BENCH_PART=lans ;;
        --lans-v2) export BENCH_PART=lans-v2 ;;
        --lans-v3) export BENCH_PART=lans-v3 ;;
        --track) export BENCH_PART=track ;;
        --v6) export BENCH_PART=v6 ;;
        *) echo "bench.sh: unknown argument $arg (--v2, --v3, --lans, --lans-v2, --lans-v3, --track or --v6)" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "bench.sh: needs root (network namespaces)" >&2
    exit 1
fi

bindir=$(scripts/build-release.sh)
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    # build-release.sh prints ./target/<host>/release even when cargo built under CARGO_TARGET_DIR.
    bindir="$CARGO_TARGET_DIR/$(basename "$(dirname "$bindir")")/release"
fi
vrrpd="$bindir/vrrpd"
if [ ! -x "$vrrpd" ]; then
    echo "bench.sh: $vrrpd not found after the release build" >&2
    exit 1
fi
echo "bench.sh: vrrpd = $vrrpd ($(stat -c %s "$vrrpd") bytes), trials = ${BENCH_TRIALS:-5}, part = ${BENCH_PART:-all}, LANs = ${BENCH_LANS:-32} (many-LAN part)" >&2

export VRRPD_BIN="$vrrpd"
export BENCH_TRIALS="${BENCH_TRIALS:-5}"
exec cargo bench --bench failover  # also sees BENCH_ONLY, BENCH_PART, BENCH_LANS, BENCH_WINDOW, BENCH_TIMELINE, BENCH_RUNDIR, VRRPD_LAB_KEEP
