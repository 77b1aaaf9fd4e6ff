#!/bin/sh
# /etc/vrrpd/vrrp_on.sh - starts this host's vrrpd processes, one after the other, like the
# original Advanced Vrrpd's /etc/scripts/vrrp_on.sh. Use it on hosts without an init system
# that reads /etc/vrrpd/*.conf (the systemd units vrrpd@IFNAME and /etc/init.d/vrrpd do).
#
# Each vrrpd detaches and returns only once it is ready (exit status 1 and the reason on
# stderr if it could not start), so a failure stops this script at the faulty line.
# Stop them with:  kill -TERM $(cat /run/vrrpd/vrrpd_*.pid)
#
# Firewall 1 below; on firewall 2 use the same lines with a lower priority (e.g. -p 100).
# -M 2: the two processes are MASTER together or not at all (host-wide state).
set -e
VRRPD=/usr/local/sbin/vrrpd
HOOKS="-U /etc/vrrpd/Master.sh -D /etc/vrrpd/Backup.sh"

# shellcheck disable=SC2086  # $HOOKS holds two options and their arguments
$VRRPD -i eth0 -v 51 -p 110 -M 2 $HOOKS 10.16.1.200
# shellcheck disable=SC2086
$VRRPD -i eth1 -v 52 -p 110 -M 2 $HOOKS 10.17.1.200

echo "vrrp_on.sh: vrrpd started on eth0 (vrid 51) and eth1 (vrid 52); atropos --state shows the host"
