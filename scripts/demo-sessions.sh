#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run from traps
# vrrpd sessions demo (scripts/demo.sh --sessions): a stateful firewall pair keeps its TCP sessions
# through a failover, thanks to conntrackd driven by vrrpd's host hook.
#
#   sudo scripts/demo.sh --sessions
#
# Builds in network namespaces: LAN A (192.0.2.0/24, a client .100), LAN B (198.51.100.0/24, an echo
# server .100), two firewalls fw1 (.1, priority 110) and fw2 (.2, 100) routing between them with the
# virtual addresses .254 as the gateways of client and server, an nftables ruleset (established
# sessions, and new ones from LAN A only), a third link between the firewalls (203.0.113.0/24) for
# conntrackd, and vrrpd -M 2 with --host-up/--host-down scripts/conntrackd/conntrackd-host.sh.
# The client opens N (20) long-lived TCP connections to the server and sends a line on each every
# 0.2 s (scripts/sessions.py). Then, with conntrackd:
#   1. fw1 loses its LAN B link: fw2 takes both LANs; every connection must carry data again;
#   2. the link comes back: fw1 takes both LANs back; every connection must carry data again;
#   3. fw1 dies (SIGKILL of its vrrpd and conntrackd, its links dark): same check on fw2;
# and the control: the same link loss without conntrackd loses the connections.
# The last line is "sessions: N of N TCP connections survived the failover"; the exit status is
# non-zero when any connection was lost. Needs conntrackd, nft and python3.
# Environment: VRRPD_BUILD_DIR, VRRPD_DEMO_KEEP=1 (keep the logs), SESSIONS_N (default 20).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
P="ssdemo$$"
N=${SESSIONS_N:-20}
VIP_A=192.0.2.254 VIP_B=198.51.100.254
TMP="" NAMESPACES=() CLEANED=0

say()  { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die()  { printf '\ndemo: %s\n' "$*" >&2; exit 1; }
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $(( t / 1000 )); }

cleanup() {
    local status=$? ns pid
    [[ $CLEANED == 1 ]] && return 0
    CLEANED=1
    trap - EXIT INT TERM
    set +e
    if [[ $status != 0 && -n $TMP ]]; then
        for f in "$TMP"/*.log; do [[ -e $f ]] && { printf '\n----- %s\n' "$f" >&2; tail -n 15 "$f" >&2; }; done
    fi
    for ns in "${NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ ${VRRPD_DEMO_KEEP:-0} == 1 ]]; then info "kept $TMP"; else rm -rf -- "$TMP"; fi
    fi
    return "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $(id -u) == 0 ]] || die "run me as root (sudo $0 --sessions): I create network namespaces"
for prog in ip nft conntrackd /usr/bin/python3; do
    command -v "$prog" >/dev/null || die "$prog is required (apt-get install iproute2 nftables conntrackd python3)"
done
# shellcheck source=scripts/build-env.sh
. "$ROOT/scripts/build-env.sh"
if [[ -n ${VRRPD_BUILD_DIR:-} ]]; then
    BIN=$VRRPD_BUILD_DIR
elif fresh_in "${CARGO_TARGET_DIR:-$ROOT/target}/release"; then
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
else
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug
    if ! fresh_in "$BIN"; then
        cargo=$(find_cargo) || die "cargo not found and no fresh vrrpd in $BIN"
        say "building vrrpd (cargo build --workspace)"
        (cd "$ROOT" && as_tree_owner "$cargo" build --workspace) || die "cargo build failed"
    fi
fi
VRRPD=$BIN/vrrpd
[[ -x $VRRPD ]] || die "$VRRPD: missing"
HOOK=$ROOT/scripts/conntrackd/conntrackd-host.sh
PY=$ROOT/scripts/sessions.py
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vrrpd-sessions.XXXXXX")
chmod 0700 "$TMP"

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
add_ns() { ip netns add "$1"; NAMESPACES+=("$1"); ip -n "$1" link set lo up; }

# build RUN WITH_CONNTRACKD: a fresh lab for one run (names $P-RUN-*).
build() {
    local r=$1 ctd=$2 n l o
    SW=$P$r-sw FW1=$P$r-fw1 FW2=$P$r-fw2 CA=$P$r-ca CB=$P$r-cb
    add_ns "$SW"
    for l in 0 1; do
        ip -n "$SW" link add "br$l" type bridge stp_state 0 forward_delay 0
        ip -n "$SW" link set "br$l" up
    done
    for n in 1 2; do
        local fw=$P$r-fw$n
        add_ns "$fw"
        for l in 0 1; do
            ip -n "$fw" link add "eth$l" address "02:00:00:00:0$l:0$n" type veth peer name "fw${n}e$l" netns "$SW"
            ip -n "$SW" link set "fw${n}e$l" master "br$l" up
            ip -n "$fw" link set "eth$l" up
        done
        ip -n "$fw" addr add "192.0.2.$n/24" dev eth0
        ip -n "$fw" addr add "198.51.100.$n/24" dev eth1
        in_ns "$fw" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/netfilter/nf_conntrack_tcp_loose'
        in_ns "$fw" nft -f - <<'EOF'
table inet ssfw {
    chain forward_filter {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "eth0" oifname "eth1" tcp flags & (fin|syn|rst|ack) == syn ct state new accept
    }
}
EOF
    done
    ip -n "$FW1" link add sync0 type veth peer name sync0 netns "$FW2"
    for n in 1 2; do
        local fw=$P$r-fw$n
        ip -n "$fw" addr add "203.0.113.$n/24" dev sync0
        ip -n "$fw" link set sync0 up
    done
    l=0
    for c in "$CA" "$CB"; do
        add_ns "$c"
        ip -n "$c" link add eth0 address "02:00:00:00:0$l:64" type veth peer name "c$l" netns "$SW"
        ip -n "$SW" link set "c$l" master "br$l" up
        ip -n "$c" link set eth0 up
        l=$((l + 1))
    done
    ip -n "$CA" addr add 192.0.2.100/24 dev eth0
    ip -n "$CA" route add default via "$VIP_A"
    ip -n "$CB" addr add 198.51.100.100/24 dev eth0
    ip -n "$CB" route add default via "$VIP_B"
    for n in 1 2; do
        local fw=$P$r-fw$n conf=$TMP/$r-conntrackd-fw$n.conf hooks=()
        o=$((3 - n))
        # conntrackd's files per firewall: the namespaces share one filesystem.
        cat >"$conf" <<EOF
Sync {
	Mode FTFW {
	}
	UDP {
		IPv4_address 203.0.113.$n
		IPv4_Destination_Address 203.0.113.$o
		Port 3780
		Interface sync0
		Checksum on
	}
}
General {
	Syslog off
	LogFile $TMP/$r-conntrackd-fw$n.log
	LockFile $TMP/$r-conntrackd-fw$n.lock
	UNIX {
		Path $TMP/$r-conntrackd-fw$n.ctl
	}
	Filter From Userspace {
		Protocol Accept {
			TCP
		}
		Address Ignore {
			IPv4_address 127.0.0.1
			IPv4_address $VIP_A
			IPv4_address $VIP_B
			IPv4_address 192.0.2.$n
			IPv4_address 198.51.100.$n
			IPv4_address 203.0.113.$n
		}
	}
}
EOF
        if [[ $ctd == 1 ]]; then
            in_ns "$fw" conntrackd -C "$conf" >"$TMP/$r-conntrackd-fw$n.out" 2>&1 </dev/null &
            hooks=(--host-up "$HOOK" --host-down "$HOOK")
        fi
        mkdir -p "$TMP/$r-run-fw$n"
        for l in 0 1; do
            local vip=$VIP_A
            [[ $l == 1 ]] && vip=$VIP_B
            in_ns "$fw" env CONNTRACKD_CONFIG="$conf" CONNTRACKD_LOCK="$TMP/$r-conntrackd-fw$n.lock" \
                "$VRRPD" -F -f "$TMP/$r-run-fw$n" -i "eth$l" -v $((51 + l)) -p $((120 - 10 * n)) -M 2 \
                "${hooks[@]}" "$vip" >"$TMP/$r-vrrpd-fw$n-eth$l.log" 2>&1 </dev/null &
        done
    done
}

holds2() { # ns: holds both VIPs
    local a
    a=" $(ip -n "$1" -o -4 addr show 2>/dev/null | awk '{printf "%s ", $4}')"
    [[ $a == *" $VIP_A/"* && $a == *" $VIP_B/"* ]]
}
wait_for() { # seconds what command...
    local limit=$1 what=$2
    shift 2
    local deadline=$(( $(now_ms) + limit * 1000 ))
    until "$@"; do
        (( $(now_ms) < deadline )) || die "timed out after ${limit}s waiting until $what"
        sleep 0.05
    done
}
echoed_since() { # status-file t_ms: connections whose last echo is later
    awk -v t="$2" 'NR > 1 && $2 > t { n++ } END { print n + 0 }' "$1" 2>/dev/null || echo 0
}
all_echoed_since() { [[ $(echoed_since "$1" "$2") == "$N" ]]; }

# start_traffic RUN: the server on LAN B, the client's N connections on LAN A.
start_traffic() {
    local r=$1
    STATUS=$TMP/$r-client.status
    in_ns "$CB" /usr/bin/python3 "$PY" server 5001 >"$TMP/$r-server.log" 2>&1 </dev/null &
    wait_for 10 "the server listens" grep -q listening "$TMP/$r-server.log"
    in_ns "$CA" /usr/bin/python3 "$PY" client 198.51.100.100 5001 "$N" "$STATUS" >"$TMP/$r-client.log" 2>&1 </dev/null &
    wait_for 20 "the $N connections carry data through fw1" all_echoed_since "$STATUS" 0
    info "client 192.0.2.100 -> server 198.51.100.100:5001: $N TCP connections, a line every 0.2 s on each"
}

# check WHAT SECONDS: after a takeover, how many connections carry data again within SECONDS.
check() {
    local what=$1 limit=$2 t0 got
    t0=$(now_ms)
    local deadline=$(( t0 + limit * 1000 ))
    while ! all_echoed_since "$STATUS" "$t0" && (( $(now_ms) < deadline )); do sleep 0.05; done
    got=$(echoed_since "$STATUS" "$t0")
    info "$what: $got of $N connections carried data again ($(( $(now_ms) - t0 )) ms after the takeover)" >&2
    echo "$got"
}

say "run 1: with conntrackd (namespaces ${P}1-*)"
build 1 1
wait_for 25 "fw1 owns both virtual addresses" holds2 "$FW1"
info "fw1 is MASTER on both LANs; fw2 BACKUP; conntrackd on both, synced over 203.0.113.0/24"
start_traffic 1
ctd2=$TMP/1-conntrackd-fw2.conf
wait_for 20 "fw2's conntrackd holds the $N sessions" \
    sh -c "[ \$(ip netns exec $FW2 conntrackd -C $ctd2 -e ct | grep -c dport=5001) -ge $N ]"
info "fw2's conntrackd external cache: $(in_ns "$FW2" conntrackd -C "$ctd2" -e ct | grep -c dport=5001) sessions of fw1"

say "1. fw1 loses its LAN B link (switch side: ip link set fw1e1 down)"
ip -n "$SW" link set fw1e1 down
wait_for 20 "fw2 owns both virtual addresses" holds2 "$FW2"
s1=$(check "failover by link loss" 30 | tail -n 1)

say "2. the link comes back: fw1 takes both LANs back"
ip -n "$SW" link set fw1e1 up
wait_for 30 "fw1 owns both virtual addresses again" holds2 "$FW1"
s2=$(check "handback" 30 | tail -n 1)

say "3. fw1 dies: SIGKILL of its vrrpd and conntrackd, its links dark"
for pid in $(ip netns pids "$FW1"); do kill -KILL "$pid" 2>/dev/null || true; done
ip -n "$SW" link set fw1e0 down
ip -n "$SW" link set fw1e1 down
ip -n "$FW1" link set sync0 down
wait_for 20 "fw2 owns both virtual addresses" holds2 "$FW2"
s3=$(check "the master host's death" 30 | tail -n 1)

say "control: the same link loss without conntrackd (namespaces ${P}2-*)"
build 2 0
wait_for 25 "fw1 owns both virtual addresses" holds2 "$FW1"
start_traffic 2
ip -n "$SW" link set fw1e1 down
wait_for 20 "fw2 owns both virtual addresses" holds2 "$FW2"
c=$(check "control (no conntrackd)" 15 | tail -n 1)

say "summary"
info "with conntrackd: link loss $s1/$N, handback $s2/$N, host death $s3/$N connections survived"
info "without conntrackd (control): $c/$N connections survived the link loss"
least=$s1
(( s2 < least )) && least=$s2
(( s3 < least )) && least=$s3
echo "sessions: $least of $N TCP connections survived the failover"
[[ $least == "$N" ]]
