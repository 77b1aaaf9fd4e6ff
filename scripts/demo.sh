#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run from traps and from wait_for
# vrrpd demo: a pair of firewalls (fw1, fw2) on two LANs, built in network namespaces.
#
#   sudo scripts/demo.sh
#   sudo scripts/demo.sh --sessions    # TCP sessions through a failover with conntrackd
#                                      # (scripts/demo-sessions.sh)
#
# What it does, step by step (everything printed as it happens):
#   1. builds vrrpd and atropos if needed (cargo build --workspace);
#   2. builds a lab of network namespaces: a "switch" with two bridges (LAN A 192.0.2.0/24,
#      LAN B 198.51.100.0/24), two firewalls fw1 (.1) and fw2 (.2) with eth0 on LAN A and eth1
#      on LAN B, and one client per LAN (.100);
#   3. starts on each firewall one vrrpd per interface, grouped with -M 2:
#        vrrpd -i eth0 -v 51 -p 110|100 -M 2 192.0.2.254
#        vrrpd -i eth1 -v 52 -p 110|100 -M 2 198.51.100.254
#      and waits until fw1 (priority 110) owns both virtual addresses;
#   4. shows atropos --state on both firewalls and the clients' ARP entries for the virtual
#      addresses (the virtual MACs 00:00:5e:00:01:33 and 00:00:5e:00:01:34);
#   5. unplugs fw1's LAN B cable (carrier loss) and measures how long it takes until fw2 owns
#      BOTH virtual addresses and fw1 none: the host-wide state at work;
#   6. plugs the cable back and measures the handback to fw1;
#   7. removes everything it created (namespaces, processes, temporary files), also on Ctrl-C.
#
# The machine's own interfaces are never touched: every command runs inside the lab's namespaces.
# Environment: VRRPD_BUILD_DIR=DIR takes vrrpd and atropos from DIR instead of target/ (or $CARGO_TARGET_DIR);
# VRRPD_DEMO_KEEP=1 keeps the temporary directory (logs, run dirs) after the end;
# VRRPD_LOG=debug makes the daemons' logs more verbose.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# --sessions: the stateful firewall pair whose TCP sessions survive the failover (conntrackd).
if [[ ${1:-} == --sessions ]]; then
    exec "$ROOT/scripts/demo-sessions.sh"
fi
P="vdemo$$"                     # unique prefix of every namespace of this run
SW="$P-sw" FW1="$P-fw1" FW2="$P-fw2" CA="$P-ca" CB="$P-cb"
VIP_A=192.0.2.254 VIP_B=198.51.100.254
VMAC_A=00:00:5e:00:01:33 VMAC_B=00:00:5e:00:01:34   # vrid 51 = 0x33, vrid 52 = 0x34
NAMESPACES=()
PIDS=()                          # "pid name" of every vrrpd we started
TMP=""
CLEANED=0

say()  { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die()  { printf '\ndemo: %s\n' "$*" >&2; exit 1; }

now_ms() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        local t=${EPOCHREALTIME/[.,]/}      # microseconds, whatever the locale's decimal mark
        echo $(( t / 1000 ))
    else
        echo $(( $(date +%s%N) / 1000000 ))
    fi
}

# ----------------------------------------------------------------------------------------------
# Cleanup: our processes by pid, then whatever still runs inside our namespaces, then the
# namespaces themselves (which removes their veths and bridges), then the temporary directory.

show_logs() {
    [[ -n $TMP && -d $TMP ]] || return 0
    local f
    for f in "$TMP"/*.log; do
        [[ -e $f ]] || continue
        printf '\n----- last lines of %s\n' "$f" >&2
        tail -n 25 "$f" >&2 || true
    done
}

cleanup() {
    local status=$?
    [[ $CLEANED == 1 ]] && return 0
    CLEANED=1
    trap - EXIT INT TERM
    set +e
    if [[ $status != 0 && $status != 130 && $status != 143 ]]; then
        show_logs
    fi
    printf '\n==> cleaning up\n'
    local entry pid i
    for entry in "${PIDS[@]}"; do
        pid=${entry%% *}
        kill -TERM "$pid" 2>/dev/null
    done
    # A MASTER needs a moment to send its priority-0 advert and restore its MAC.
    for i in $(seq 1 50); do
        local alive=0
        for entry in "${PIDS[@]}"; do
            kill -0 "${entry%% *}" 2>/dev/null && alive=1
        done
        [[ $alive == 0 ]] && break
        sleep 0.1
    done
    for entry in "${PIDS[@]}"; do
        pid=${entry%% *}
        if kill -0 "$pid" 2>/dev/null; then
            info "vrrpd ${entry#* } (pid $pid) did not stop after SIGTERM: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    local ns
    for ns in "${NAMESPACES[@]}"; do
        [[ -e /run/netns/$ns ]] || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$ns" 2>/dev/null || info "could not delete namespace $ns"
    done
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ ${VRRPD_DEMO_KEEP:-0} == 1 ]]; then
            info "kept $TMP (logs and run dirs)"
        else
            rm -rf -- "$TMP"
        fi
    fi
    info "removed namespaces ${NAMESPACES[*]:-(none)}"
    return "$status"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT
trap 'echo "demo: terminated" >&2; exit 143' TERM

# ----------------------------------------------------------------------------------------------
# Preconditions and binaries

[[ $(id -u) == 0 ]] || die "run me as root (sudo $0): I create network namespaces"
command -v ip >/dev/null || die "iproute2 (the ip command) is required"
ip netns list >/dev/null 2>&1 || die "this kernel or ip does not support network namespaces (ip netns)"

# shellcheck source=scripts/build-env.sh
. "$ROOT/scripts/build-env.sh"
build_debug() { # 0 built, 1 build failed, 2 no cargo
    local cargo
    cargo=$(find_cargo) || return 2
    say "building vrrpd and atropos (cargo build --workspace)"
    (cd "$ROOT" && as_tree_owner "$cargo" build --workspace) || return 1
}

if [[ -n ${VRRPD_BUILD_DIR:-} ]]; then
    BIN=$VRRPD_BUILD_DIR
    [[ -x $BIN/vrrpd && -x $BIN/atropos ]] || die "VRRPD_BUILD_DIR=$BIN: vrrpd or atropos missing there"
elif fresh_in "${CARGO_TARGET_DIR:-$ROOT/target}/release"; then
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
else
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug
    if ! fresh_in "$BIN"; then
        built=0
        build_debug || built=$?
        if [[ $built != 0 ]]; then
            why="cargo not found (install Rust from https://rustup.rs)"
            [[ $built == 1 ]] && why="cargo build --workspace failed (see above)"
            [[ -x $BIN/vrrpd && -x $BIN/atropos ]] || die "cannot build vrrpd and atropos: $why"
            info "$why: using the existing, older binaries in $BIN"
        fi
    fi
fi
VRRPD=$BIN/vrrpd
ATROPOS=$BIN/atropos
[[ -x $VRRPD ]] || die "$VRRPD: missing after the build"
[[ -x $ATROPOS ]] || die "$ATROPOS: missing after the build"
info "vrrpd:   $VRRPD ($("$VRRPD" -V 2>&1 || true))"
info "atropos: $ATROPOS"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vrrpd-demo.XXXXXX")
chmod 0700 "$TMP"

# ----------------------------------------------------------------------------------------------
# The lab

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
add_ns() {
    ip netns add "$1"
    NAMESPACES+=("$1")
    ip -n "$1" link set lo up
}
sysctl_ns() { # ns key value (without the sysctl binary, which is not everywhere)
    in_ns "$1" sh -c "echo $3 > /proc/sys/${2//.//}"
}

say "building the lab (namespaces $P-*)"
add_ns "$SW"
for br in brA brB; do
    ip -n "$SW" link add "$br" type bridge stp_state 0 forward_delay 0
    ip -n "$SW" link set "$br" up
done
LANBR=(brA brB)
LANNET=(192.0.2 198.51.100)

n=0
for fw in "$FW1" "$FW2"; do
    n=$((n + 1))
    add_ns "$fw"
    for l in 0 1; do
        leg="fw${n}e$l"                      # the switch-side end of the firewall's eth$l
        ip -n "$fw" link add "eth$l" address "02:00:00:00:0$l:0$n" type veth peer name "$leg" netns "$SW"
        ip -n "$SW" link set "$leg" master "${LANBR[$l]}" up
        ip -n "$fw" addr add "${LANNET[$l]}.$n/24" dev "eth$l"
        ip -n "$fw" link set "eth$l" up
    done
    info "fw$n: eth0 ${LANNET[0]}.$n/24 (LAN A), eth1 ${LANNET[1]}.$n/24 (LAN B)"
done
l=0
for c in "$CA" "$CB"; do
    add_ns "$c"
    ip -n "$c" link add eth0 address "02:00:00:00:0$l:64" type veth peer name "c$l" netns "$SW"
    ip -n "$SW" link set "c$l" master "${LANBR[$l]}" up
    sysctl_ns "$c" net.ipv4.conf.all.arp_accept 1
    sysctl_ns "$c" net.ipv4.conf.eth0.arp_accept 1
    ip -n "$c" addr add "${LANNET[$l]}.100/24" dev eth0
    ip -n "$c" link set eth0 up
    info "client of LAN $([[ $l == 0 ]] && echo A || echo B): ${LANNET[$l]}.100/24 (arp_accept=1)"
    l=$((l + 1))
done

# ----------------------------------------------------------------------------------------------
# Helpers to watch the lab

held() { # ns -> how many of the two VIPs the firewall holds (0, 1, 2)
    local a n=0
    a=" $(ip -n "$1" -o -4 addr show 2>/dev/null | awk '{printf "%s ", $4}' || true)"
    [[ $a == *" $VIP_A/"* ]] && n=$((n + 1))
    [[ $a == *" $VIP_B/"* ]] && n=$((n + 1))
    echo "$n"
}
fw1_owns() { [[ $(held "$FW1") == 2 && $(held "$FW2") == 0 ]]; }
fw2_owns() { [[ $(held "$FW2") == 2 && $(held "$FW1") == 0 ]]; }

check_alive() {
    local entry
    for entry in "${PIDS[@]}"; do
        kill -0 "${entry%% *}" 2>/dev/null || die "vrrpd ${entry#* } (pid ${entry%% *}) exited; its log is below"
    done
}

# wait_for SECONDS "what" command...: polls every ~10 ms; dies with a clear message on timeout.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local deadline=$(( $(now_ms) + limit * 1000 ))
    until "$@"; do
        check_alive
        (( $(now_ms) < deadline )) || { snapshot >&2; die "timed out after ${limit}s waiting until $what"; }
        sleep 0.01
    done
}

snapshot() {
    local fw
    echo
    for fw in "$FW1" "$FW2"; do
        echo "--- ${fw#"$P"-}:"
        ip -n "$fw" -br link show 2>/dev/null | sed 's/^/    /'
        ip -n "$fw" -o -4 addr show 2>/dev/null | awk '{print "    " $2, $4, $NF}'
    done
}

show_addrs() {
    local fw
    for fw in "$FW1" "$FW2"; do
        for i in eth0 eth1; do
            local mac addrs
            mac=$(ip -n "$fw" -o link show dev "$i" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
            addrs=$(ip -n "$fw" -o -4 addr show dev "$i" | awk '{printf "%s%s", sep, $4; sep=" "}')
            info "${fw#"$P"-} $i  mac $mac  addresses $addrs"
        done
    done
}

atropos_state() { # fw n
    local fw=$1 n=$2 rc=0
    echo "    --- fw$n: atropos -f <run dir of fw$n> --state"
    # with pipefail the pipeline's status is atropos's own (sed succeeds)
    in_ns "$fw" "$ATROPOS" -f "$TMP/run-fw$n" --state 2>&1 | sed 's/^/    /' || rc=$?
    echo "    (exit status $rc: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)"
}

neigh_of() { # client-ns ip -> MAC in the client's neighbour table, or nothing
    ip -n "$1" -4 neigh show "$2" 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'
}

# ----------------------------------------------------------------------------------------------
# vrrpd on both firewalls

start_vrrpd() { # fw n prio ifname vrid vip
    local fw=$1 n=$2 prio=$3 ifn=$4 vrid=$5 vip=$6
    local log="$TMP/fw$n-$ifn.log"
    local args=(-F -f "$TMP/run-fw$n" -i "$ifn" -v "$vrid" -p "$prio" -M 2 "$vip")
    echo "# ip netns exec fw$n vrrpd ${args[*]}" >"$log"
    ip netns exec "$fw" "$VRRPD" "${args[@]}" >>"$log" 2>&1 </dev/null &
    PIDS+=("$! fw$n/$ifn")
    info "fw$n: vrrpd ${args[*]}   (pid $!, log $log)"
}

say "starting vrrpd: fw1 with priority 110, fw2 with priority 100, -M 2 on both"
start_vrrpd "$FW1" 1 110 eth0 51 "$VIP_A"
start_vrrpd "$FW1" 1 110 eth1 52 "$VIP_B"
start_vrrpd "$FW2" 2 100 eth0 51 "$VIP_A"
start_vrrpd "$FW2" 2 100 eth1 52 "$VIP_B"

say "waiting until fw1 owns both virtual addresses (election: about 3 advert intervals)"
t0=$(now_ms)
wait_for 25 "fw1 owns $VIP_A and $VIP_B and fw2 neither" fw1_owns
info "fw1 is MASTER on both LANs after $(( $(now_ms) - t0 )) ms"
show_addrs

say "atropos --state on both firewalls"
atropos_state "$FW1" 1
atropos_state "$FW2" 2

say "the clients' ARP entries for the virtual addresses (filled by gratuitous ARP)"
client_sees() { [[ $(neigh_of "$CA" "$VIP_A") == "$VMAC_A" && $(neigh_of "$CB" "$VIP_B") == "$VMAC_B" ]]; }
if ! client_sees; then
    # Already answered: make the clients resolve (one UDP datagram to the discard port).
    in_ns "$CA" bash -c "echo x > /dev/udp/$VIP_A/9" 2>/dev/null || true
    in_ns "$CB" bash -c "echo x > /dev/udp/$VIP_B/9" 2>/dev/null || true
fi
wait_for 10 "the clients map the VIPs to the virtual MACs" client_sees
info "client A: $(ip -n "$CA" -4 neigh show "$VIP_A")"
info "client B: $(ip -n "$CB" -4 neigh show "$VIP_B")"

# ----------------------------------------------------------------------------------------------
# Failover

say "unplugging fw1's LAN B cable (switch side: ip link set fw1e1 down; fw1 sees carrier loss)"
t0=$(now_ms)
ip -n "$SW" link set fw1e1 down
wait_for 20 "fw2 owns both virtual addresses and fw1 none" fw2_owns
t_fail=$(( $(now_ms) - t0 ))
info "fw2 owns $VIP_A and $VIP_B, fw1 holds none: ${t_fail} ms after the cable was pulled"
show_addrs

say "atropos --state after the failover (fw1 should report its link down: CRITICAL)"
atropos_state "$FW1" 1
atropos_state "$FW2" 2

say "the clients now reach the virtual addresses through fw2 (same virtual MACs)"
in_ns "$CA" bash -c "echo x > /dev/udp/$VIP_A/9" 2>/dev/null || true
in_ns "$CB" bash -c "echo x > /dev/udp/$VIP_B/9" 2>/dev/null || true
info "client A: $(ip -n "$CA" -4 neigh show "$VIP_A")"
info "client B: $(ip -n "$CB" -4 neigh show "$VIP_B")"

# ----------------------------------------------------------------------------------------------
# Handback

say "plugging the cable back (fw1 rejoins the election; priority 110 and preemption: it takes both LANs back)"
t0=$(now_ms)
ip -n "$SW" link set fw1e1 up
wait_for 30 "fw1 owns both virtual addresses again and fw2 none" fw1_owns
t_back=$(( $(now_ms) - t0 ))
info "fw1 owns both virtual addresses again: ${t_back} ms after the cable was plugged back"
show_addrs

say "summary"
info "failover (fw1 loses LAN B, fw2 takes LAN A and LAN B): ${t_fail} ms"
info "handback (link back, fw1 preempts on both LANs):      ${t_back} ms"
if [[ ${VRRPD_DEMO_KEEP:-0} == 1 ]]; then
    info "logs of the four vrrpd processes: $TMP/*.log"
else
    info "logs of the four vrrpd processes: removed at exit (VRRPD_DEMO_KEEP=1 keeps them)"
fi
exit 0
