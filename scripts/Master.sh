#!/bin/sh
# /etc/vrrpd/Master.sh - run by vrrpd (-U) each time this host becomes MASTER.
#
# Called without a shell by vrrpd as:  Master.sh STATE IFNAME VRID   (STATE is MASTER)
# Environment: VRRP_STATE VRRP_PREV_STATE VRRP_IFACE VRRP_VRID VRRP_PRIORITY
#              VRRP_VIPS ("a.b.c.d/len ...") VRRP_VIPS6 ("2001:db8::1/64 ...", VRRPv3)
#              VRRP_VMAC VRRP_REASON
# It runs after the virtual MAC, the virtual addresses, the first advert and the gratuitous ARPs
# are in place. Its output goes to vrrpd's log; it is killed after --hook-timeout (30 s).
# With -M, every vrrpd of the host calls it for its own interface: act on "$2" only.
#
# This sample brings up extra addresses that follow the virtual MAC (the original
# documentation's "ifconfig eth0:0 ... up"), e.g. an address for Openswan's ipsec0=eth0:0.
# ALWAYS undo in Backup.sh what you do here, or both firewalls will hold the same address.
#
# Addresses per interface: "IFNAME ADDRESS/LEN LABEL" (one per line); edit to your needs.
ALIASES="
eth0 192.168.2.2/24 eth0:0
"

STATE=${1:-${VRRP_STATE:-}}
IFNAME=${2:-${VRRP_IFACE:-}}
VRID=${3:-${VRRP_VRID:-}}
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

log() { logger -t vrrpd-hook -p daemon.notice -- "$*" 2>/dev/null || echo "vrrpd-hook: $*"; }

log "$IFNAME vrid $VRID: $STATE (was ${VRRP_PREV_STATE:-?}, ${VRRP_REASON:-no reason given})"

status=0
echo "$ALIASES" | while read -r dev addr label; do
    [ "$dev" = "$IFNAME" ] || continue
    if ip -4 addr show dev "$dev" to "${addr%/*}" | grep -q inet; then
        log "$dev: $addr ($label) already up"
    elif ip addr add "$addr" dev "$dev" label "$label"; then
        log "$dev: $addr up as $label"
    else
        log "$dev: could not add $addr as $label"
        exit 1
    fi
done || status=1

# Other actions on becoming MASTER go here, e.g. bring a VPN up:
#   [ "$IFNAME" = eth0 ] && ipsec auto --up my-tunnel
exit $status
