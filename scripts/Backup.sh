#!/bin/sh
# /etc/vrrpd/Backup.sh - run by vrrpd (-D) each time this host becomes BACKUP, including the
# first BACKUP after start and the BACKUP at stop when it was MASTER.
#
# Called without a shell by vrrpd as:  Backup.sh STATE IFNAME VRID   (STATE is BACKUP)
# Environment: VRRP_STATE VRRP_PREV_STATE VRRP_IFACE VRRP_VRID VRRP_PRIORITY
#              VRRP_VIPS ("a.b.c.d/len ...") VRRP_VIPS6 ("2001:db8::1/64 ...", VRRPv3)
#              VRRP_VMAC VRRP_REASON
# It runs after the virtual addresses are removed and the interface's own MAC is restored.
# Its output goes to vrrpd's log; it is killed after --hook-timeout (30 s).
#
# This sample takes down the extra addresses that Master.sh brings up (the original
# documentation's "ifconfig eth0:0 ... down"). Keep both lists identical.
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

# Other actions on becoming BACKUP go first, e.g. take a VPN down:
#   [ "$IFNAME" = eth0 ] && ipsec auto --down my-tunnel

status=0
echo "$ALIASES" | while read -r dev addr label; do
    [ "$dev" = "$IFNAME" ] || continue
    if ! ip -4 addr show dev "$dev" to "${addr%/*}" | grep -q inet; then
        continue        # not up (e.g. the first BACKUP after start): nothing to do
    elif ip addr del "$addr" dev "$dev" label "$label"; then
        log "$dev: $addr ($label) down"
    else
        log "$dev: could not remove $addr ($label)"
        exit 1
    fi
done || status=1
exit $status
