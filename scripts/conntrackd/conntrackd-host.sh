#!/bin/sh
# /etc/vrrpd/conntrackd-host.sh - host hook of vrrpd driving conntrackd, so that the sessions of a
# stateful firewall pair survive a failover. Give it to every vrrpd of the host:
#
#   vrrpd -i eth0 -v 51 -M 2 --host-up /etc/vrrpd/conntrackd-host.sh \
#         --host-down /etc/vrrpd/conntrackd-host.sh 10.16.1.200
#
# vrrpd runs it once per transition of the whole host (not once per interface), without a shell:
#   conntrackd-host.sh STATE IFNAME VRID        STATE is MASTER or BACKUP
# Its output goes to vrrpd's log; it is killed after --hook-timeout (30 s).
#
# The steps are those of conntrack-tools' primary-backup script:
#   MASTER: commit the external cache (the other firewall's sessions) into the kernel table,
#           flush both caches, resync the internal cache with the kernel table, and send it in
#           bulk to the other firewall;
#   BACKUP: start conntrackd if it is not running (after removing a stale lock file), shorten the
#           kernel timers of the entries left from our time as MASTER (PurgeTimeout), and ask the
#           other firewall for a full resync.
#
# Environment (from vrrpd's own, e.g. a line of /etc/vrrpd/eth0.conf with systemd):
#   CONNTRACKD_BIN     default /usr/sbin/conntrackd
#   CONNTRACKD_CONFIG  default /etc/conntrackd/conntrackd.conf (sample: /etc/vrrpd/conntrackd.conf)
#   CONNTRACKD_LOCK    default /var/lock/conntrackd.lock (the LockFile of that configuration)
BIN=${CONNTRACKD_BIN:-/usr/sbin/conntrackd}
CONFIG=${CONNTRACKD_CONFIG:-/etc/conntrackd/conntrackd.conf}
LOCK=${CONNTRACKD_LOCK:-/var/lock/conntrackd.lock}
STATE=${1:-${VRRP_STATE:-}}
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

log() { logger -t vrrpd-conntrackd -p daemon.notice -- "$*" 2>/dev/null; echo "conntrackd-host: $*"; }

# step FLAG WHAT: one conntrackd client command; a failure is logged and the next steps still run.
status=0
step() {
    if "$BIN" -C "$CONFIG" "$1"; then
        log "$STATE: conntrackd $1 ($2) done"
    else
        log "$STATE: conntrackd $1 ($2) failed"
        status=1
    fi
}

log "host $STATE (was ${VRRP_PREV_STATE:-?}; members ${VRRPD_MEMBERS:-?})"
case $STATE in
    MASTER)
        step -c "commit the external cache into the kernel table"
        step -f "flush the internal and external caches"
        step -R "resync the internal cache with the kernel table"
        step -B "bulk send to the other firewall"
        ;;
    BACKUP)
        if ! "$BIN" -C "$CONFIG" -s >/dev/null 2>&1; then
            if [ -f "$LOCK" ]; then
                log "conntrackd is not running but left $LOCK: removing it"
                rm -f -- "$LOCK"
            fi
            if "$BIN" -C "$CONFIG" -d; then
                log "conntrackd started"
            else
                log "cannot start conntrackd"
                exit 1
            fi
        fi
        step -t "shorten the kernel timers of our old entries"
        step -n "request a resync from the other firewall"
        ;;
    *)
        log "unknown state '$STATE' (expected MASTER or BACKUP)"
        exit 2
        ;;
esac
exit $status
