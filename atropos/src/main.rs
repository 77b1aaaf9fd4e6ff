//! atropos: shows and steers the vrrpd processes of a host through their Unix sockets in the run dir.
//!
//! Exit statuses follow the monitoring plugin convention for `--state`: 0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN. The other commands exit 0 on success, 1 when a member did not confirm, 2 on a usage error,
//! 3 when nothing can be reached.

use serde_json::{Map, Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vrrpd::control::{Message, Request};
use vrrpd::info::Info;
use vrrpd::profile::{Interval, Version};
use vrrpd::rundir::{self, Member, MemberId, RecordState};
use vrrpd::sys::proc;

const OK: u8 = 0;
const WARNING: u8 = 1;
const CRITICAL: u8 = 2;
const UNKNOWN: u8 = 3;
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    State,
    Backup,
    Resume,
    Reduce,
    Increase,
    Help,
    Version,
}

#[derive(Debug)]
struct Args {
    cmd: Cmd,
    json: bool,
    rundir: PathBuf,
}

fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    o.optflag("s", "state", "show the host's state and every vrrpd (monitoring exit codes)");
    o.optflag("j", "json", "with --state: one JSON document");
    o.optflag("b", "backup", "maintenance drain: the whole host goes BACKUP and stays there");
    o.optflag("r", "resume", "end the drain: the election decides again");
    o.optflag("z", "reduce", "priority -10 (or the vrrpd -z value) on every vrrpd");
    o.optflag("x", "increase", "priority +10 (or the vrrpd -x value) on every vrrpd");
    o.optopt("f", "rundir", "vrrpd's run directory (default /run/vrrpd)", "RUNDIR");
    o.optflag("h", "help", "print this help");
    o.optflag("V", "version", "print the version");
    o
}

fn usage() -> String {
    options().usage(
        "Usage: atropos [-f RUNDIR] COMMAND\n\n\
         Shows and steers the vrrpd processes of this host.\n\
         Commands: --state (-s) [--json], --backup (-b), --resume (-r), --reduce (-z), --increase (-x),\n\
         --help (-h), --version (-V). The original's -state and -backup are accepted.\n\
         --state exits 0 OK, 1 WARNING (drained, priority changed), 2 CRITICAL (members disagree, missing,\n\
         dead, link down), 3 UNKNOWN (no vrrpd, no run dir, not root).",
    )
}

fn parse_args(raw: Vec<String>) -> Result<Args, String> {
    // The original atropos took single-dash long words.
    let raw: Vec<String> = raw
        .into_iter()
        .map(|a| match a.as_str() {
            "-state" | "-backup" | "-resume" | "-reduce" | "-increase" | "-help" | "-json" | "-version" => {
                format!("-{a}")
            }
            _ => a,
        })
        .collect();
    let m = options().parse(&raw).map_err(|e| format!("{e} (see atropos --help)"))?;
    if !m.free.is_empty() {
        return Err(format!("unexpected argument {:?} (see atropos --help)", m.free[0]));
    }
    let mut cmds = Vec::new();
    for (o, c) in [
        ("state", Cmd::State),
        ("backup", Cmd::Backup),
        ("resume", Cmd::Resume),
        ("reduce", Cmd::Reduce),
        ("increase", Cmd::Increase),
        ("help", Cmd::Help),
        ("version", Cmd::Version),
    ] {
        if m.opt_present(o) {
            cmds.push(c);
        }
    }
    let cmd = match cmds.as_slice() {
        [] if m.opt_present("json") => Cmd::State,
        [] => return Err("no command given (see atropos --help)".into()),
        [c] => *c,
        [Cmd::Help, ..] | [.., Cmd::Help] => Cmd::Help,
        _ => return Err("give one command at a time".into()),
    };
    if m.opt_present("json") && cmd != Cmd::State {
        return Err("--json goes with --state".into());
    }
    let rundir = PathBuf::from(m.opt_str("f").unwrap_or_else(|| vrrpd::cli::DEFAULT_RUNDIR.into()));
    Ok(Args { cmd, json: m.opt_present("json"), rundir })
}

/// One request to one member, with a timeout on connect, write and read.
fn ask(path: &Path, req: Request) -> Result<Message, String> {
    let mut s = proc::connect_unix(path, ANSWER_TIMEOUT).map_err(|e| format!("not answering ({e})"))?;
    s.write_all(format!("{}\n", req.verb()).as_bytes()).map_err(|e| format!("not answering ({e})"))?;
    let mut line = String::new();
    match BufReader::new(s).read_line(&mut line) {
        Ok(0) => return Err("closed without an answer".into()),
        Ok(_) => {}
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            return Err("no answer within 1 s".into());
        }
        Err(e) => return Err(e.to_string()),
    }
    let m = Message::decode(line.trim_end()).map_err(|e| format!("bad answer: {e}"))?;
    if m.verb == "ERR" {
        return Err(m.get("msg").unwrap_or("error").to_string());
    }
    Ok(m)
}

/// A member as atropos sees it: its record in the state file and/or its answer.
#[derive(Clone)]
struct Seen {
    /// How the member is named in messages: the interface, or "eth0 vrid 51" when several vrids share it.
    ifname: String,
    record: Option<Member>,
    answer: Result<Message, String>,
}

/// Asks every member in parallel (a hung member costs one timeout, not one per member).
fn survey(dir: &Path, req: Request) -> Vec<Seen> {
    let records = rundir::read_state(dir).unwrap_or_default();
    let mut ids: Vec<MemberId> = records.iter().map(|m| m.id()).collect();
    for (id, _) in rundir::sibling_sockets(dir, None) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.sort();
    ids.dedup();
    let label = |id: &MemberId| {
        if ids.iter().filter(|x| x.ifname == id.ifname).count() > 1 { id.to_string() } else { id.ifname.clone() }
    };
    std::thread::scope(|sc| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let path = rundir::sock_path(dir, id);
                sc.spawn(move || ask(&path, req))
            })
            .collect();
        ids.iter()
            .zip(handles)
            .map(|(id, h)| Seen {
                ifname: label(id),
                record: records.iter().find(|r| &r.id() == id).cloned(),
                answer: h.join().unwrap_or_else(|_| Err("internal error".into())),
            })
            .collect()
    })
}

use rundir::unix_ms as now_ms;

fn fmt_since(ms: u64) -> String {
    if ms == 0 {
        return "-".into();
    }
    let ago = now_ms().saturating_sub(ms) / 1000;
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

struct Row {
    ifname: String,
    vrid: String,
    state: String,
    prio: String,
    cfgprio: String,
    mac: String,
    vips: String,
    heard: String,
    heard_prio: String,
    since_ms: u64,
    reason: String,
    pid: String,
    sent: String,
    recv: String,
    drops: String,
    link: String,
    /// Our VRRP version and advertisement interval.
    ver: Option<Version>,
    int: Option<Interval>,
    /// Adverts accepted with another interval than ours: count, and the peer heard lately with its interval.
    imm: String,
    imm_peer: Option<(String, Interval)>,
    /// While MASTER: another router advertising our vrid with adverts we drop (peer, priority, kind, text, ago).
    conflict: Option<[String; 5]>,
    /// Why the member cannot advertise (it is out of the election).
    fault: Option<String>,
    problem: Option<String>,
}

/// "eth0 vrid 51" (the row's label already says it when several vrids share the interface).
fn who(r: &Row) -> String {
    if r.ifname.contains(" vrid ") { r.ifname.clone() } else { format!("{} vrid {}", r.ifname, r.vrid) }
}

fn row(seen: &Seen) -> Row {
    let rec = seen.record.as_ref();
    match &seen.answer {
        Ok(m) => match Info::from_message(m) {
            Ok(i) => Row {
                ifname: seen.ifname.clone(),
                vrid: i.vrid.to_string(),
                state: i.state.name().to_string(),
                prio: i.priority.to_string(),
                cfgprio: i.cfg_priority.to_string(),
                mac: vrrpd::arp::fmt_mac(&i.mac),
                vips: i.vips.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","),
                heard: i.heard.as_ref().map(|h| h.src.to_string()).unwrap_or_else(|| "-".into()),
                heard_prio: i.heard.as_ref().map(|h| h.priority.to_string()).unwrap_or_else(|| "-".into()),
                since_ms: i.since_ms,
                reason: i.reason.clone(),
                pid: i.pid.to_string(),
                sent: i.sent.to_string(),
                recv: i.received.to_string(),
                drops: if i.drops.is_empty() {
                    "-".into()
                } else {
                    i.drops.iter().map(|(k, n)| format!("{}:{n}", k.name())).collect::<Vec<_>>().join(",")
                },
                link: if i.link_up { "up" } else { "down" }.to_string(),
                ver: Some(i.version),
                int: Some(i.interval),
                imm: i.interval_mismatches.to_string(),
                imm_peer: i.mismatch.as_ref().map(|m| (m.peer.to_string(), m.interval)),
                conflict: i.conflict.as_ref().map(|c| {
                    [
                        c.peer.to_string(),
                        c.priority.to_string(),
                        c.kind.name().to_string(),
                        c.kind.describe().to_string(),
                        c.ago_ms.to_string(),
                    ]
                }),
                fault: i.fault.clone(),
                problem: None,
            },
            Err(e) => Row {
                problem: Some(format!("bad answer: {e}")),
                ..row(&Seen { answer: Err(e.clone()), ..seen.clone() })
            },
        },
        Err(e) => {
            let dead = rec.is_some_and(|r| r.state == RecordState::Dead || !proc::alive(r.pid));
            Row {
                ifname: seen.ifname.clone(),
                vrid: rec.map(|r| r.vrid.to_string()).unwrap_or("-".into()),
                state: if dead { "DEAD".into() } else { "NO ANSWER".into() },
                prio: rec.map(|r| r.prio.to_string()).unwrap_or("-".into()),
                cfgprio: rec.map(|r| r.cfg_prio.to_string()).unwrap_or("-".into()),
                mac: rec.and_then(|r| r.mac.map(|m| vrrpd::arp::fmt_mac(&m))).unwrap_or("-".into()),
                vips: rec
                    .map(|r| r.vips.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","))
                    .unwrap_or("-".into()),
                heard: "-".into(),
                heard_prio: "-".into(),
                since_ms: rec.map(|r| r.since_ms).unwrap_or(0),
                reason: rec.map(|r| r.reason.clone()).unwrap_or_default(),
                pid: rec.map(|r| r.pid.to_string()).unwrap_or("-".into()),
                sent: "-".into(),
                recv: "-".into(),
                drops: "-".into(),
                link: rec.map(|r| if r.link_up { "up" } else { "down" }.to_string()).unwrap_or("-".into()),
                ver: rec.map(|r| r.version),
                int: rec.map(|r| r.adver_int),
                imm: "-".into(),
                imm_peer: None,
                conflict: None,
                fault: None,
                problem: Some(if dead { "process is dead".to_string() } else { e.clone() }),
            }
        }
    }
}

/// The host's global state and the monitoring status, with the reasons.
fn assess(rows: &[Row], seen: &[Seen], drained: bool) -> (String, u8, Vec<String>) {
    let mut problems = Vec::new();
    let mut status = OK;
    let expected = seen
        .iter()
        .filter_map(|s| match &s.answer {
            Ok(m) => Info::from_message(m).ok().map(|i| i.members),
            Err(_) => s.record.as_ref().map(|r| r.members),
        })
        .max()
        .unwrap_or(0);
    let alive: Vec<&Row> = rows.iter().filter(|r| r.problem.is_none()).collect();
    let sizes: Vec<(String, u32)> = seen
        .iter()
        .filter_map(|s| Some((s.ifname.clone(), Info::from_message(s.answer.as_ref().ok()?).ok()?.members)))
        .collect();
    if sizes.iter().any(|(_, n)| *n != sizes[0].1) {
        let each: Vec<String> = sizes.iter().map(|(i, n)| format!("{i} -M {n}")).collect();
        problems.push(format!("members disagree on the group size ({}): the host stays BACKUP", each.join(", ")));
        status = CRITICAL;
    }
    for r in rows {
        if let Some(p) = &r.problem {
            problems.push(format!("{}: {p}", r.ifname));
            status = CRITICAL;
        }
    }
    if expected > 0 && (alive.len() as u32) < expected {
        problems.push(format!("{} of {expected} vrrpd processes present", alive.len()));
        status = CRITICAL;
    }
    for r in &alive {
        if r.link == "down" {
            problems.push(format!("{}: link down", r.ifname));
            status = CRITICAL;
        }
    }
    let mut states: Vec<&str> = alive.iter().map(|r| r.state.as_str()).collect();
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
    if drained {
        problems.push("host drained by atropos --backup (atropos --resume ends it)".into());
        status = status.max(WARNING);
    }
    for r in &alive {
        if let Some(f) = &r.fault {
            problems.push(format!("{}: cannot advertise: {f} (out of the election)", who(r)));
            status = CRITICAL;
        }
        if let Some([peer, prio, _, why, _]) = &r.conflict {
            let level = if prio.parse::<u8>().ok() >= r.prio.parse::<u8>().ok() { CRITICAL } else { WARNING };
            problems.push(format!(
                "{}: {peer} (priority {prio}) also advertises vrid {} while we are MASTER: {why} - possible split brain",
                who(r),
                r.vrid
            ));
            status = status.max(level);
        }
        if let Some((peer, int)) = &r.imm_peer {
            problems.push(format!(
                "{}: {peer} advertises every {int}, we every {} (interval mismatch)",
                who(r),
                r.int.map(|i| i.to_string()).unwrap_or_else(|| "?".into())
            ));
            status = status.max(WARNING);
        }
        if r.prio != r.cfgprio {
            problems.push(format!("{}: priority changed by hand ({} instead of {})", r.ifname, r.prio, r.cfgprio));
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

fn cmd_state(dir: &Path, json: bool) -> u8 {
    let seen = survey(dir, Request::Get);
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
    let rows: Vec<Row> = seen.iter().map(row).collect();
    let (global, status, problems) = assess(&rows, &seen, drained);
    if json {
        let members: Vec<Value> = rows.iter().zip(&seen).map(|(r, s)| member_json(r, s)).collect();
        let doc = json!({
            "status": status_word(status),
            "exit": status,
            "state": global,
            "drained": drained,
            "rundir": dir.display().to_string(),
            "problems": problems,
            "members": members,
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
    let header = [
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
    let table: Vec<[String; 13]> = rows
        .iter()
        .map(|r| {
            [
                r.ifname.clone(),
                r.vrid.clone(),
                match (r.ver, r.int) {
                    (Some(v), Some(i)) => format!("v{} {i}", v.number()),
                    _ => "-".into(),
                },
                if r.link == "down" && r.problem.is_none() {
                    format!("{} (link down)", r.state)
                } else {
                    r.state.clone()
                },
                if r.prio == r.cfgprio { r.prio.clone() } else { format!("{}/{}", r.prio, r.cfgprio) },
                r.mac.clone(),
                r.vips.clone(),
                if r.heard == "-" { "-".into() } else { format!("{} ({})", r.heard, r.heard_prio) },
                fmt_since(r.since_ms),
                r.pid.clone(),
                format!("{}/{}", r.sent, r.recv),
                r.drops.clone(),
                r.problem.clone().unwrap_or_else(|| r.reason.clone()),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
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
    line(header.to_vec());
    for t in &table {
        line(t.iter().map(|s| s.as_str()).collect());
    }
    status
}

/// A member's `--json` object.
fn member_json(r: &Row, s: &Seen) -> Value {
    let drops: Map<String, Value> =
        r.drops.split(',').filter_map(|d| d.split_once(':')).map(|(k, v)| (k.to_string(), num(v))).collect();
    let mut m = json!({
        "interface": r.ifname,
        "vrid": num(&r.vrid),
        "vrrp_version": r.ver.map(|v| v.number()),
        "advert_interval": secs(r.int),
        "state": r.state,
        "priority": num(&r.prio),
        "configured_priority": num(&r.cfgprio),
        "mac": r.mac,
        "virtual_addresses": r.vips.split(',').filter(|v| !v.is_empty() && *v != "-").collect::<Vec<_>>(),
        "link": r.link,
        "master_heard": (r.heard != "-").then_some(&r.heard),
        "master_heard_priority": num(&r.heard_prio),
        "since_ms": r.since_ms,
        "reason": r.reason,
        "pid": num(&r.pid),
        "adverts_sent": num(&r.sent),
        "adverts_received": num(&r.recv),
        "dropped": drops,
        "fault": r.fault,
        "counters": { "interval_mismatch": num(&r.imm) },
        "interval_mismatch": r.imm_peer.as_ref().map(|(p, i)| json!({
            "peer": p,
            "peer_interval": secs(Some(*i)),
            "our_interval": secs(r.int),
            "count": num(&r.imm),
        })),
        "conflict": r.conflict.as_ref().map(|[p, pr, k, why, ago]| json!({
            "peer": p,
            "peer_priority": num(pr),
            "reason": k,
            "text": why,
            "ago_ms": num(ago),
        })),
        "problem": r.problem,
    });
    if let (Ok(a), Some(obj)) = (&s.answer, m.as_object_mut()) {
        let held = Info::from_message(a).map(|i| i.held).unwrap_or_default();
        obj.insert("held_backup_because".into(), held.into());
    }
    m
}

/// A decimal field as a JSON number (`null` when absent or "-").
fn num(s: &str) -> Value {
    s.parse::<u64>().map(Value::from).unwrap_or(Value::Null)
}

/// An interval as a JSON number of seconds (`1`, `0.1`), `null` when unknown.
fn secs(i: Option<Interval>) -> Value {
    match i {
        Some(i) if i.centis().is_multiple_of(100) => Value::from(i.centis() / 100),
        Some(i) => Value::from(f64::from(i.centis()) / 100.0),
        None => Value::Null,
    }
}

/// Sends one command to every member; prints one line each. Exit 0 when all confirmed.
fn broadcast(dir: &Path, req: Request, what: &str) -> u8 {
    let seen = survey(dir, req);
    if seen.is_empty() {
        println!("no vrrpd found in {}", dir.display());
        return UNKNOWN;
    }
    let mut code = OK;
    for s in &seen {
        match &s.answer {
            Ok(m) => {
                let detail: Vec<&str> = m.fields.values().map(|v| v.as_str()).collect();
                println!("{}: {what} {}", s.ifname, detail.join(", "));
            }
            Err(e) => {
                if s.record.as_ref().is_some_and(|r| r.state == RecordState::Dead) {
                    println!("{}: not running (dead member)", s.ifname);
                } else {
                    println!("{}: FAILED: {e}", s.ifname);
                }
                code = WARNING;
            }
        }
    }
    code
}

fn cmd_backup(dir: &Path) -> u8 {
    let path = rundir::drain_path(dir);
    // Write nothing where no vrrpd runs (a mistyped -f must not leave a drain file behind).
    if !survey(dir, Request::Get).iter().any(|s| s.answer.is_ok()) {
        println!("no vrrpd answers in {}: nothing drained, nothing written", dir.display());
        return UNKNOWN;
    }
    let t0 = Instant::now();
    if let Err(e) = rundir::set_drain(dir, "atropos --backup", now_ms()) {
        println!("cannot create {}: {e}", path.display());
        return UNKNOWN;
    }
    println!("drain recorded in {} (it holds until atropos --resume, across vrrpd restarts)", path.display());
    let code = broadcast(dir, Request::Drain, "drained, now");
    if code == UNKNOWN {
        return code;
    }
    // Watch for the peer taking each LAN over (the new master's first advert), for a while.
    let mut pending: Vec<String> =
        survey(dir, Request::Get).into_iter().filter(|s| s.answer.is_ok()).map(|s| s.ifname).collect();
    let deadline = t0 + Duration::from_secs(5);
    while !pending.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        for s in survey(dir, Request::Get) {
            let Some(info) = s.answer.as_ref().ok().and_then(|m| Info::from_message(m).ok()) else { continue };
            if !pending.contains(&s.ifname) {
                continue;
            }
            if let Some(h) = &info.heard {
                let p = h.priority;
                let heard_at = Instant::now().checked_sub(Duration::from_millis(h.ago_ms));
                if p > 0 && heard_at.is_some_and(|h| h > t0) {
                    let after = heard_at.map(|h| h.duration_since(t0)).unwrap_or_default();
                    println!(
                        "{}: peer {} (priority {p}) took over, first advert {:.2} s after the drain",
                        s.ifname,
                        h.src,
                        after.as_secs_f64()
                    );
                    pending.retain(|n| n != &s.ifname);
                }
            }
        }
    }
    for n in pending {
        println!("{n}: no peer heard taking over within 5 s (no peer on that LAN, or it cannot be seen from here)");
    }
    code
}

fn cmd_resume(dir: &Path) -> u8 {
    let path = rundir::drain_path(dir);
    // Only in a vrrpd run dir (one with a state file, or a member answering): never remove another `drain`.
    let ours = std::fs::symlink_metadata(dir.join(rundir::STATE_FILE)).is_ok()
        || survey(dir, Request::Get).iter().any(|s| s.answer.is_ok());
    if !ours {
        println!("{} is not a vrrpd run directory (no state file, no vrrpd answers): nothing done", dir.display());
        return UNKNOWN;
    }
    match std::fs::remove_file(&path) {
        Ok(()) => println!("drain removed ({})", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => println!("the host was not drained"),
        Err(e) => {
            println!("cannot remove {}: {e}", path.display());
            return UNKNOWN;
        }
    }
    broadcast(dir, Request::Resume, "resumed, now")
}

fn main() -> ExitCode {
    proc::default_sigpipe();
    let raw = match vrrpd::cli::args_utf8(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("atropos: {e}");
            return ExitCode::from(2);
        }
    };
    let args = match parse_args(raw) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("atropos: {e}");
            return ExitCode::from(2);
        }
    };
    match args.cmd {
        Cmd::Help => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Cmd::Version => {
            println!("atropos {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    if !proc::is_root() {
        println!("atropos must be run as root");
        return ExitCode::from(UNKNOWN);
    }
    if !args.rundir.is_dir() {
        println!("VRRP UNKNOWN: no run directory {} (is vrrpd running? see -f)", args.rundir.display());
        return ExitCode::from(UNKNOWN);
    }
    if let Err(e) = rundir::check_trusted(&args.rundir) {
        println!("VRRP UNKNOWN: {e}");
        return ExitCode::from(UNKNOWN);
    }
    let code = match args.cmd {
        Cmd::State => cmd_state(&args.rundir, args.json),
        Cmd::Backup => cmd_backup(&args.rundir),
        Cmd::Resume => cmd_resume(&args.rundir),
        Cmd::Reduce => broadcast(&args.rundir, Request::Reduce, "priority now"),
        Cmd::Increase => broadcast(&args.rundir, Request::Increase, "priority now"),
        Cmd::Help | Cmd::Version => OK,
    };
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Args, String> {
        parse_args(a.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn commands_long_short_and_legacy() {
        for (args, cmd) in [
            (&["--state"][..], Cmd::State),
            (&["-s"], Cmd::State),
            (&["-state"], Cmd::State),
            (&["--backup"], Cmd::Backup),
            (&["-b"], Cmd::Backup),
            (&["-backup"], Cmd::Backup),
            (&["--resume"], Cmd::Resume),
            (&["-r"], Cmd::Resume),
            (&["--reduce"], Cmd::Reduce),
            (&["-z"], Cmd::Reduce),
            (&["--increase"], Cmd::Increase),
            (&["-x"], Cmd::Increase),
            (&["-h"], Cmd::Help),
            (&["--version"], Cmd::Version),
        ] {
            assert_eq!(p(args).unwrap().cmd, cmd, "{args:?}");
        }
        let a = p(&["-f", "/tmp/x", "--state", "--json"]).unwrap();
        assert!(a.json);
        assert_eq!(a.rundir, PathBuf::from("/tmp/x"));
        assert_eq!(p(&["--json"]).unwrap().cmd, Cmd::State);
    }

    #[test]
    fn bad_usage() {
        assert!(p(&[]).unwrap_err().contains("no command"));
        assert!(p(&["--state", "--backup"]).unwrap_err().contains("one command"));
        assert!(p(&["--backup", "--json"]).unwrap_err().contains("--json goes with --state"));
        assert!(p(&["--frobnicate"]).is_err());
        assert!(p(&["state"]).unwrap_err().contains("unexpected argument"));
    }

    #[test]
    fn json_numbers_and_intervals() {
        assert_eq!(num("12"), json!(12));
        assert_eq!(num("-"), Value::Null);
        assert_eq!(secs(Some(Interval::from_secs(2))), json!(2));
        assert_eq!(secs(Some(Interval::from_centis(10))), json!(0.1));
        assert_eq!(secs(None), Value::Null);
        // Strings are escaped by serde_json.
        assert_eq!(json!({"r": "a\"b\\c\n"}).to_string(), r#"{"r":"a\"b\\c\n"}"#);
    }
}
