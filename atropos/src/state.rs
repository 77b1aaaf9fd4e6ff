//! `atropos --state`: the host's global state and monitoring status from the rows, in text or JSON.

use crate::row::{Row, dash, link_word};
use crate::survey::{Seen, survey};
use serde_json::{Value, json};
use std::path::Path;
use vrrpd::control::Request;
use vrrpd::packet::DropKind;
use vrrpd::profile::Interval;
use vrrpd::rundir;

pub const OK: u8 = 0;
pub const WARNING: u8 = 1;
pub const CRITICAL: u8 = 2;
pub const UNKNOWN: u8 = 3;

/// The host's global state and the monitoring status, with the reasons.
pub fn assess(rows: &[Row], drained: bool) -> (String, u8, Vec<String>) {
    let mut problems = Vec::new();
    let mut status = OK;
    let expected = rows.iter().filter_map(|r| r.members).max().unwrap_or(0);
    let alive: Vec<&Row> = rows.iter().filter(|r| r.problem.is_none()).collect();
    let sizes: Vec<(&str, u32)> = alive.iter().filter_map(|r| Some((r.label.as_str(), r.members?))).collect();
    if sizes.iter().any(|(_, n)| *n != sizes[0].1) {
        let each: Vec<String> = sizes.iter().map(|(i, n)| format!("{i} -M {n}")).collect();
        problems.push(format!("members disagree on the group size ({}): the host stays BACKUP", each.join(", ")));
        status = CRITICAL;
    }
    for r in rows {
        if let Some(p) = &r.problem {
            problems.push(format!("{}: {p}", r.label));
            status = CRITICAL;
        }
    }
    if expected > 0 && (alive.len() as u32) < expected {
        problems.push(format!("{} of {expected} vrrpd processes present", alive.len()));
        status = CRITICAL;
    }
    for r in &alive {
        if r.link_down() {
            problems.push(format!("{}: link down", r.label));
            status = CRITICAL;
        }
    }
    let mut states: Vec<&str> = alive.iter().map(|r| r.shown.name()).collect();
    states.sort();
    states.dedup();
    let global = match states.as_slice() {
        [] => "UNKNOWN".to_string(),
        [one] if drained && *one != "MASTER" => "DRAINED".to_string(),
        [one] => one.to_string(),
        _ => {
            problems.push(format!("members disagree: {}", states.join(" / ")));
            status = CRITICAL;
            "MIXED".to_string()
        }
    };
    for (p, level) in crate::trackers::problems(&alive) {
        problems.push(p);
        status = status.max(level);
    }
    if drained {
        problems.push("host drained by atropos --backup (atropos --resume ends it)".into());
        status = status.max(WARNING);
    }
    for r in &alive {
        if let Some(f) = &r.fault {
            problems.push(format!("{}: cannot advertise: {f} (out of the election)", r.who()));
            status = CRITICAL;
        }
        if let Some(c) = &r.conflict {
            let level = if Some(c.priority) >= r.prio { CRITICAL } else { WARNING };
            problems.push(format!(
                "{}: {} (priority {}) also advertises vrid {} while we are MASTER: {} - possible split brain",
                r.who(),
                c.peer,
                c.priority,
                dash(r.vrid),
                c.kind.describe()
            ));
            status = status.max(level);
        }
        if let Some(m) = &r.mismatch {
            problems.push(format!(
                "{}: {} advertises every {}, we every {} (interval mismatch)",
                r.who(),
                m.peer,
                m.interval,
                r.interval.map(|i| i.to_string()).unwrap_or_else(|| "?".into())
            ));
            status = status.max(WARNING);
        }
        if r.prio != r.cfg_prio {
            problems.push(format!(
                "{}: priority changed by hand ({} instead of {})",
                r.label,
                dash(r.prio),
                dash(r.cfg_prio)
            ));
            status = status.max(WARNING);
        }
    }
    (global, status, problems)
}

fn status_word(s: u8) -> &'static str {
    match s {
        OK => "OK",
        WARNING => "WARNING",
        CRITICAL => "CRITICAL",
        _ => "UNKNOWN",
    }
}

/// Prints an UNKNOWN result (text or JSON) and returns its exit status.
fn unknown(dir: &Path, json: bool, msg: &str) -> u8 {
    if json {
        let doc = json!({
            "status": "UNKNOWN",
            "exit": UNKNOWN,
            "state": "UNKNOWN",
            "rundir": dir.display().to_string(),
            "problems": [msg],
            "members": [],
        });
        println!("{doc}");
    } else {
        println!("VRRP UNKNOWN: {msg}");
    }
    UNKNOWN
}

pub fn cmd_state(dir: &Path, json: bool) -> u8 {
    let seen: Vec<Seen> = survey(dir, Request::Get);
    let drained = rundir::drained(dir);
    if seen.is_empty() {
        return unknown(dir, json, &format!("no vrrpd found in {}", dir.display()));
    }
    if seen.iter().all(|s| s.answer.is_err()) {
        // Records but no live process: no vrrpd is running on this host.
        let left: Vec<String> = seen
            .iter()
            .map(|s| format!("{} ({})", s.ifname, s.record.as_ref().map(|r| r.state.name()).unwrap_or("no record")))
            .collect();
        let msg = format!("no vrrpd answers in {} (left in the state file: {})", dir.display(), left.join(", "));
        return unknown(dir, json, &msg);
    }
    let rows: Vec<Row> = seen.iter().map(Row::of).collect();
    let (global, status, problems) = assess(&rows, drained);
    if json {
        let doc = json!({
            "status": status_word(status),
            "exit": status,
            "state": global,
            "drained": drained,
            "rundir": dir.display().to_string(),
            "problems": problems,
            "members": rows.iter().map(member_json).collect::<Vec<_>>(),
        });
        println!("{doc}");
        return status;
    }
    println!(
        "VRRP {}: host is {}{}",
        status_word(status),
        global,
        if problems.is_empty() { String::new() } else { format!(" - {}", problems.join("; ")) }
    );
    print_table(&rows);
    status
}

const HEADER: [&str; 13] = [
    "IFACE",
    "VRID",
    "VRRP",
    "STATE",
    "PRIO",
    "MAC",
    "VIRTUAL ADDRESSES",
    "MASTER HEARD",
    "SINCE",
    "PID",
    "SENT/RECV",
    "DROPPED",
    "REASON",
];

/// A row's cells under [`HEADER`].
fn cells(r: &Row) -> [String; 13] {
    let state = if r.link_down() { format!("{} (link down)", r.shown.name()) } else { r.shown.name().to_string() };
    [
        r.label.clone(),
        dash(r.vrid),
        match (r.version, r.interval) {
            (Some(v), Some(i)) => format!("v{} {i}", v.number()),
            _ => "-".into(),
        },
        state,
        if r.prio == r.cfg_prio { dash(r.prio) } else { format!("{}/{}", dash(r.prio), dash(r.cfg_prio)) },
        dash(r.mac.as_ref().map(vrrpd::arp::fmt_mac)),
        r.vips.as_ref().map(|v| join(v.iter())).unwrap_or_else(|| "-".into()),
        r.heard.as_ref().map(|h| format!("{} ({})", h.src, h.priority)).unwrap_or_else(|| "-".into()),
        fmt_since(r.since_ms),
        dash(r.pid),
        format!("{}/{}", dash(r.sent), dash(r.received)),
        drops_text(&r.drops),
        r.problem.clone().unwrap_or_else(|| r.reason.clone()),
    ]
}

fn join<T: ToString>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

fn print_table(rows: &[Row]) {
    let table: Vec<[String; 13]> = rows.iter().map(cells).collect();
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.len()).collect();
    for t in &table {
        for (i, c) in t.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(HEADER.to_vec());
    for (t, r) in table.iter().zip(rows) {
        line(t.iter().map(|s| s.as_str()).collect());
        if let Some(p) = crate::ipv6::line(r) {
            println!("  {p}");
        }
        if let Some(p) = peers_line(r) {
            println!("  {p}");
        }
        if let Some(t) = crate::trackers::line(r) {
            println!("  {t}");
        }
    }
}

/// The line under a member with `--peer`: "unicast peers: 192.0.2.2 heard 0.25 s ago, 192.0.2.3 never heard".
fn peers_line(r: &Row) -> Option<String> {
    if r.peers.is_empty() {
        return None;
    }
    let each = r.peers.iter().map(|p| match p.ago_ms {
        Some(ms) => format!("{} heard {} s ago", p.addr, fmt_secs(ms)),
        None if r.problem.is_some() => format!("{} (not known)", p.addr),
        None => format!("{} never heard", p.addr),
    });
    Some(format!("unicast peers: {}", each.collect::<Vec<_>>().join(", ")))
}

/// Milliseconds as seconds with two decimals ("0.25", "12.00").
fn fmt_secs(ms: u64) -> String {
    format!("{}.{:02}", ms / 1000, ms % 1000 / 10)
}

fn fmt_since(ms: u64) -> String {
    if ms == 0 {
        return "-".into();
    }
    let ago = rundir::unix_ms().saturating_sub(ms) / 1000;
    let (d, h, m, s) = (ago / 86_400, ago / 3600 % 24, ago / 60 % 60, ago % 60);
    if d > 0 {
        format!("{d}d{h:02}h ago")
    } else if h > 0 {
        format!("{h}h{m:02}m ago")
    } else if m > 0 {
        format!("{m}m{s:02}s ago")
    } else {
        format!("{s}s ago")
    }
}

/// A member's `--json` object.
pub fn member_json(r: &Row) -> Value {
    let vips: Vec<String> = r.vips.iter().flatten().map(|v| v.to_string()).collect();
    let mut m = json!({
        "interface": r.label,
        "vrid": r.vrid,
        "vrrp_version": r.version.map(|v| v.number()),
        "advert_interval": secs(r.interval),
        "state": r.shown.name(),
        "priority": r.prio,
        "configured_priority": r.cfg_prio,
        "mac": dash(r.mac.as_ref().map(vrrpd::arp::fmt_mac)),
        "virtual_addresses": vips,
        "link": link_word(r.link_up),
        "master_heard": r.heard.as_ref().map(|h| h.src.to_string()),
        "master_heard_priority": r.heard.as_ref().map(|h| h.priority),
        "since_ms": r.since_ms,
        "reason": r.reason,
        "pid": r.pid,
        "adverts_sent": r.sent,
        "adverts_received": r.received,
        "dropped": drops_json(&r.drops),
        "fault": r.fault,
        "counters": { "interval_mismatch": r.mismatches },
        "interval_mismatch": r.mismatch.as_ref().map(|mm| json!({
            "peer": mm.peer.to_string(),
            "peer_interval": secs(Some(mm.interval)),
            "our_interval": secs(r.interval),
            "count": r.mismatches,
        })),
        "conflict": r.conflict.as_ref().map(|c| json!({
            "peer": c.peer.to_string(),
            "peer_priority": c.priority,
            "reason": c.kind.name(),
            "text": c.kind.describe(),
            "ago_ms": c.ago_ms,
        })),
        "peers": r.peers.iter().map(|p| json!({
            "address": p.addr.to_string(),
            "heard_ago_s": p.ago_ms.map(secs_ms),
        })).collect::<Vec<_>>(),
        "trackers": crate::trackers::json(r),
        "preempt_delay_left_s": r.preempt_left_ms.map(secs_ms),
        "ipv6": crate::ipv6::json(r),
        "problem": r.problem,
    });
    if let (Some(held), Some(obj)) = (&r.held, m.as_object_mut()) {
        obj.insert("held_backup_because".into(), held.clone().into());
    }
    m
}

/// Counted drop kinds as a cell: "ttl:3,checksum:1", "-" for none (both families' rows).
pub fn drops_text(drops: &[(DropKind, u64)]) -> String {
    if drops.is_empty() { "-".into() } else { join(drops.iter().map(|(k, n)| format!("{}:{n}", k.name()))) }
}

/// Counted drop kinds as a JSON object {kind: count}.
pub fn drops_json(drops: &[(DropKind, u64)]) -> Value {
    Value::Object(drops.iter().map(|(k, n)| (k.name().to_string(), Value::from(*n))).collect())
}

/// Milliseconds as a JSON number of seconds.
pub fn secs_ms(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// An interval as a JSON number of seconds (`1`, `0.1`), `null` when unknown.
pub fn secs(i: Option<Interval>) -> Value {
    match i {
        Some(i) if i.centis().is_multiple_of(100) => Value::from(i.centis() / 100),
        Some(i) => Value::from(f64::from(i.centis()) / 100.0),
        None => Value::Null,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::row::Shown;
    use crate::survey::Seen;
    use std::net::Ipv4Addr;
    use vrrpd::cli::parse_vip;
    use vrrpd::fsm::State;
    use vrrpd::info::{Conflict, Heard, Info, Peer};
    use vrrpd::packet::DropKind;
    use vrrpd::profile::Version;
    use vrrpd::rundir::{Member, RecordState};

    pub(crate) fn info(state: State, prio: u8) -> Info {
        Info {
            ifname: "eth0".into(),
            vrid: 51,
            pid: 1234,
            state,
            wants: true,
            priority: prio,
            cfg_priority: 110,
            preempt: true,
            version: Version::V3,
            interval: Interval::from_centis(10),
            mac: [0, 0, 0x5e, 0, 1, 51],
            omac: [2, 0, 0, 0, 0, 1],
            vmac: true,
            vips: vec![parse_vip("10.16.1.200").unwrap()],
            link_up: true,
            heard: Some(Heard { src: Ipv4Addr::new(10, 16, 1, 3).into(), priority: 90, ago_ms: 250 }),
            since_ms: 0,
            reason: "startup".into(),
            sent: 7,
            received: 9,
            drops: vec![(DropKind::Ttl, 3)],
            members: 2,
            present: 2,
            siblings: vec![],
            drained: false,
            held: String::new(),
            strict_interval: false,
            fault: None,
            interval_mismatches: 0,
            mismatch: None,
            conflict: None,
            peers: vec![],
            trackers: vec![],
            preempt_left_ms: None,
            v6: None,
        }
    }

    /// A row made the way atropos makes it: from the answer line the daemon sends.
    pub(crate) fn live(label: &str, i: &Info) -> Row {
        let m = vrrpd::control::Message::decode(i.to_message().encode().trim_end()).unwrap();
        Row::of(&Seen { ifname: label.into(), record: None, answer: Ok(m) })
    }

    #[test]
    fn a_live_member_in_json_has_typed_numbers() {
        let r = live("eth0", &info(State::Master, 110));
        let j = member_json(&r);
        assert_eq!(j["vrid"], json!(51));
        assert_eq!(j["state"], json!("MASTER"));
        assert_eq!(j["priority"], json!(110));
        assert_eq!(j["vrrp_version"], json!(3));
        assert_eq!(j["advert_interval"], json!(0.1));
        assert_eq!(j["mac"], json!("00:00:5e:00:01:33"));
        assert_eq!(j["virtual_addresses"], json!(["10.16.1.200/32"]));
        assert_eq!(j["master_heard"], json!("10.16.1.3"));
        assert_eq!(j["master_heard_priority"], json!(90));
        assert_eq!(j["dropped"], json!({"ttl": 3}));
        assert_eq!(j["adverts_sent"], json!(7));
        assert_eq!(j["held_backup_because"], json!(""));
        assert_eq!(j["problem"], Value::Null);
        assert_eq!(cells(&r)[2], "v3 0.10 s");
        assert_eq!(cells(&r)[11], "ttl:3");
    }

    #[test]
    fn a_dead_member_shows_its_record() {
        let rec = Member {
            ifname: "eth1".into(),
            vrid: 52,
            pid: 99,
            state: RecordState::Dead,
            prio: 100,
            cfg_prio: 100,
            members: 2,
            adver_int: Interval::from_secs(1),
            ..Member::default()
        };
        let r = Row::of(&Seen { ifname: "eth1".into(), record: Some(rec), answer: Err("not answering".into()) });
        assert_eq!(r.shown, Shown::Dead);
        let j = member_json(&r);
        assert_eq!(j["state"], json!("DEAD"));
        assert_eq!(j["vrid"], json!(52));
        assert_eq!(j["adverts_sent"], Value::Null);
        assert_eq!(j["problem"], json!("process is dead"));
        assert!(j.get("held_backup_because").is_none());
        assert_eq!(cells(&r)[10], "-/-");
        let (global, status, problems) = assess(&[live("eth0", &info(State::Backup, 110)), r], false);
        assert_eq!((global.as_str(), status), ("BACKUP", CRITICAL));
        assert!(problems.contains(&"eth1: process is dead".to_string()), "{problems:?}");
        assert!(problems.contains(&"1 of 2 vrrpd processes present".to_string()), "{problems:?}");
    }

    #[test]
    fn a_failed_tracker_is_critical_once_for_the_host() {
        use vrrpd::track::{Health, Kind, Tracked};
        let sick = |health| {
            let mut i = info(State::Backup, 110);
            i.trackers = vec![Tracked {
                kind: Kind::Process,
                name: "haproxy".into(),
                health,
                since_ms: 1_700_000_000_000,
                detail: "no process named haproxy".into(),
            }];
            i.preempt_left_ms = Some(2500);
            i
        };
        let rows = [live("eth0", &sick(Health::Failed)), live("eth1", &sick(Health::Failed))];
        let (g, s, p) = assess(&rows, false);
        assert_eq!((g.as_str(), s), ("BACKUP", CRITICAL));
        let t: Vec<&String> = p.iter().filter(|p| p.contains("tracker")).collect();
        assert_eq!(t.len(), 1, "{p:?}");
        assert!(t[0].starts_with("tracker process haproxy failed since 22:13:20 UTC ("), "{}", t[0]);
        assert!(t[0].ends_with("no process named haproxy (eth0, eth1): the host stays BACKUP"), "{}", t[0]);
        let j = member_json(&rows[0]);
        assert_eq!(j["trackers"][0]["state"], json!("failed"));
        assert_eq!(j["trackers"][0]["name"], json!("haproxy"));
        assert_eq!(j["preempt_delay_left_s"], json!(2.5));
        let (_, s, _) = assess(&[live("eth0", &sick(Health::Pending)), live("eth1", &sick(Health::Healthy))], false);
        assert_eq!(s, WARNING);
        assert!(crate::trackers::line(&rows[0]).unwrap().contains("process haproxy failed"));
    }

    #[test]
    fn verdicts_of_the_host() {
        let ok = [live("eth0", &info(State::Master, 110)), live("eth1", &info(State::Master, 110))];
        assert_eq!(assess(&ok, false), ("MASTER".to_string(), OK, vec![]));
        let mixed = [live("eth0", &info(State::Master, 110)), live("eth1", &info(State::Backup, 110))];
        let (g, s, p) = assess(&mixed, false);
        assert_eq!((g.as_str(), s), ("MIXED", CRITICAL));
        assert_eq!(p, vec!["members disagree: BACKUP / MASTER".to_string()]);
        let lowered = [live("eth0", &info(State::Backup, 100)), live("eth1", &info(State::Backup, 110))];
        let (g, s, p) = assess(&lowered, true);
        assert_eq!((g.as_str(), s), ("DRAINED", WARNING));
        assert!(p.contains(&"eth0: priority changed by hand (100 instead of 110)".to_string()), "{p:?}");
        // A conflicting router at our priority or above is CRITICAL, below it a WARNING.
        for (peer, level) in [(110, CRITICAL), (90, WARNING)] {
            let mut i = info(State::Master, 110);
            i.members = 0;
            i.conflict = Some(Conflict {
                peer: Ipv4Addr::new(10, 16, 1, 9).into(),
                priority: peer,
                kind: DropKind::Ttl,
                ago_ms: 5,
            });
            let (_, s, p) = assess(&[live("eth0", &i)], false);
            assert_eq!(s, level, "{p:?}");
            assert!(p[0].starts_with(&format!("eth0 vrid 51: 10.16.1.9 (priority {peer}) also advertises vrid 51")));
        }
    }

    #[test]
    fn unicast_peers_with_their_last_heard_time() {
        let mut i = info(State::Backup, 100);
        i.peers = vec![
            Peer { addr: Ipv4Addr::new(10, 16, 1, 3).into(), ago_ms: Some(250) },
            Peer { addr: Ipv4Addr::new(10, 16, 1, 4).into(), ago_ms: None },
        ];
        let r = live("eth0", &i);
        let j = member_json(&r);
        assert_eq!(
            j["peers"],
            json!([
                {"address": "10.16.1.3", "heard_ago_s": 0.25},
                {"address": "10.16.1.4", "heard_ago_s": null},
            ])
        );
        assert_eq!(peers_line(&r).as_deref(), Some("unicast peers: 10.16.1.3 heard 0.25 s ago, 10.16.1.4 never heard"));
        // Multicast: an empty array and no line.
        let m = live("eth0", &info(State::Master, 110));
        assert_eq!(member_json(&m)["peers"], json!([]));
        assert_eq!(peers_line(&m), None);
        // A dead member: the peers of its record, the time not known.
        let rec = Member {
            ifname: "eth0".into(),
            vrid: 51,
            pid: 99,
            state: RecordState::Dead,
            peers: vec![Ipv4Addr::new(10, 16, 1, 3)],
            ..Member::default()
        };
        let d = Row::of(&Seen { ifname: "eth0".into(), record: Some(rec), answer: Err("not answering".into()) });
        assert_eq!(member_json(&d)["peers"], json!([{"address": "10.16.1.3", "heard_ago_s": null}]));
        assert_eq!(peers_line(&d).as_deref(), Some("unicast peers: 10.16.1.3 (not known)"));
        assert_eq!(fmt_secs(12_005), "12.00");
    }

    #[test]
    fn json_intervals() {
        assert_eq!(secs(Some(Interval::from_secs(2))), json!(2));
        assert_eq!(secs(Some(Interval::from_centis(10))), json!(0.1));
        assert_eq!(secs(None), Value::Null);
    }
}
