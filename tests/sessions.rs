//! Sessions survive the failover: a stateful firewall pair (nftables, `-M 2`) with conntrackd on a
//! dedicated sync link, driven by the kit's host hook (scripts/conntrackd/conntrackd-host.sh), keeps
//! 20 long-lived TCP connections of a client on LAN A to a server on LAN B alive through a failover
//! by link loss (and the handback) and through the master host's death; the same runs without
//! conntrackd lose them (the control). Run as root: `cargo test --test sessions -- --test-threads=1`.

mod common;

use common::pair::HANG;
use common::sessions::*;
use common::*;
use std::time::Duration;

/// Anti-hang bound for the sessions to carry data again: the takeover (up to Master_Down_Interval,
/// 3.6 s), the commit, then TCP's backed-off retransmission (up to a few seconds).
const RECOVER: Duration = Duration::from_secs(30);
/// How long the control watches the connections stay dead after the takeover.
const CONTROL: Duration = Duration::from_secs(15);

fn skip() -> bool {
    skip_unless_root()
        || skip_unless_installed("conntrackd", "-v")
        || skip_unless_installed("nft", "--version")
        || skip_unless_installed("/usr/bin/python3", "--version")
}

/// Every connection carries data after `since` (Unix ms, taken once the new master owns both LANs).
fn survive(s: &Sessions, what: &str, since: u64) {
    let took = s.lab.wait_until(RECOVER, &format!("every connection carries data again after {what}"), || {
        s.echoed_since(since) == CONNS
    });
    println!("sessions: {CONNS} of {CONNS} TCP connections survived {what} (all carried data again after {took:?})");
}

#[test]
fn sessions_survive_link_loss_and_the_handback_with_conntrackd() {
    if skip() {
        return;
    }
    let s = Sessions::start("sslink", true);
    exec(&s.lab.switch, "ip link set h1e1 down");
    s.lab.wait_until(HANG, "host 2 owns both LANs after host 1's LAN B link went down", || s.host_owns_all(2));
    survive(&s, "the failover by link loss", unix_ms());
    s.lab.wait_until(HANG, "host 1's conntrackd holds host 2's sessions", || s.external_sessions(1) >= CONNS);
    exec(&s.lab.switch, "ip link set h1e1 up");
    s.lab.wait_until(HANG, "host 1 owns both LANs again", || s.host_owns_all(1));
    survive(&s, "the handback", unix_ms());
}

#[test]
fn sessions_survive_the_master_hosts_death_with_conntrackd() {
    if skip() {
        return;
    }
    let s = Sessions::start("ssdeath", true);
    s.host_death(1);
    s.lab.wait_until(HANG, "host 2 owns both LANs after host 1 died", || common::pair::owns_all(&s.lab, 2));
    survive(&s, "the master host's death", unix_ms());
}

#[test]
fn without_conntrackd_the_same_failovers_lose_every_session() {
    if skip() {
        return;
    }
    for how in ["link loss", "host death"] {
        let s = Sessions::start(if how == "link loss" { "sscontrol1" } else { "sscontrol2" }, false);
        if how == "link loss" {
            exec(&s.lab.switch, "ip link set h1e1 down");
        } else {
            s.host_death(1);
        }
        s.lab.wait_until(HANG, &format!("host 2 owns both LANs after the {how}"), || common::pair::owns_all(&s.lab, 2));
        let t = unix_ms();
        hold_for(CONTROL, &format!("without conntrackd no connection carries data after the {how}"), || {
            s.echoed_since(t) == 0
        });
        println!("control ({how}, no conntrackd): 0 of {CONNS} TCP connections survived");
    }
}
