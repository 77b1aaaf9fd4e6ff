//! One member's row: what its answer (or, without one, its state-file record) says, in typed fields.

use crate::survey::Seen;
use vrrpd::cli::Vip;
use vrrpd::fsm::State;
use vrrpd::info::{Conflict, Heard, Info, Mismatch, Peer};
use vrrpd::info6::Router6;
use vrrpd::packet::DropKind;
use vrrpd::profile::{Interval, Version};
use vrrpd::rundir::{Member, RecordState};
use vrrpd::sys::proc;

/// The state a row shows: the member's own, or why it has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    Live(State),
    Dead,
    NoAnswer,
}

impl Shown {
    pub fn name(self) -> &'static str {
        match self {
            Shown::Live(s) => s.name(),
            Shown::Dead => "DEAD",
            Shown::NoAnswer => "NO ANSWER",
        }
    }
}

/// `None` is a field the source did not give (shown "-" in text, `null` in JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub label: String,
    pub vrid: Option<u8>,
    pub shown: Shown,
    pub prio: Option<u8>,
    pub cfg_prio: Option<u8>,
    pub mac: Option<[u8; 6]>,
    pub vips: Option<Vec<Vip>>,
    pub heard: Option<Heard>,
    pub since_ms: u64,
    pub reason: String,
    pub pid: Option<u32>,
    pub sent: Option<u64>,
    pub received: Option<u64>,
    pub drops: Vec<(DropKind, u64)>,
    pub link_up: Option<bool>,
    pub version: Option<Version>,
    pub interval: Option<Interval>,
    /// Adverts accepted with another interval than ours, and the peer heard lately with its interval.
    pub mismatches: Option<u64>,
    pub mismatch: Option<Mismatch>,
    /// While MASTER: another router advertising our vrid with adverts we drop.
    pub conflict: Option<Conflict>,
    /// Why the member cannot advertise (it is out of the election).
    pub fault: Option<String>,
    /// `-M` as the member knows it.
    pub members: Option<u32>,
    /// From an answer: why the host is held BACKUP (empty when it may be MASTER).
    pub held: Option<String>,
    /// `--peer`: the unicast peers and when each was last heard (empty: multicast). From a record
    /// (no answer) the addresses only, never heard as far as the row knows.
    pub peers: Vec<Peer>,
    /// `--track-*` (from an answer only) and the preempt delay left.
    pub trackers: Vec<vrrpd::track::Tracked>,
    pub preempt_left_ms: Option<u64>,
    /// The IPv6 router of a dual-stack member (from an answer only).
    pub v6: Option<Router6>,
    /// Why the row is not a live member's (no answer, dead, bad answer).
    pub problem: Option<String>,
}

impl Row {
    pub fn of(seen: &Seen) -> Row {
        match &seen.answer {
            Ok(m) => match Info::from_message(m) {
                Ok(i) => Row::live(&seen.ifname, i),
                Err(e) => Row {
                    problem: Some(format!("bad answer: {e}")),
                    held: Some(String::new()),
                    ..Row::recorded(&seen.ifname, seen.record.as_ref(), &e)
                },
            },
            Err(e) => Row::recorded(&seen.ifname, seen.record.as_ref(), e),
        }
    }

    fn live(label: &str, i: Info) -> Row {
        Row {
            label: label.to_string(),
            vrid: Some(i.vrid),
            shown: Shown::Live(i.state),
            prio: Some(i.priority),
            cfg_prio: Some(i.cfg_priority),
            mac: Some(i.mac),
            vips: Some(i.vips),
            heard: i.heard,
            since_ms: i.since_ms,
            reason: i.reason,
            pid: Some(i.pid),
            sent: Some(i.sent),
            received: Some(i.received),
            drops: i.drops,
            link_up: Some(i.link_up),
            version: Some(i.version),
            interval: Some(i.interval),
            mismatches: Some(i.interval_mismatches),
            mismatch: i.mismatch,
            conflict: i.conflict,
            fault: i.fault,
            members: Some(i.members),
            held: Some(i.held),
            peers: i.peers,
            trackers: i.trackers,
            preempt_left_ms: i.preempt_left_ms,
            v6: i.v6,
            problem: None,
        }
    }

    /// A member that did not answer (`why`): what its record says, if it has one.
    fn recorded(label: &str, rec: Option<&Member>, why: &str) -> Row {
        let dead = rec.is_some_and(|r| r.state == RecordState::Dead || !proc::alive(r.pid));
        Row {
            label: label.to_string(),
            vrid: rec.map(|r| r.vrid),
            shown: if dead { Shown::Dead } else { Shown::NoAnswer },
            prio: rec.map(|r| r.prio),
            cfg_prio: rec.map(|r| r.cfg_prio),
            mac: rec.and_then(|r| r.mac),
            vips: rec.map(|r| r.vips.clone()),
            heard: None,
            since_ms: rec.map(|r| r.since_ms).unwrap_or(0),
            reason: rec.map(|r| r.reason.clone()).unwrap_or_default(),
            pid: rec.map(|r| r.pid),
            sent: None,
            received: None,
            drops: Vec::new(),
            link_up: rec.map(|r| r.link_up),
            version: rec.map(|r| r.version),
            interval: rec.map(|r| r.adver_int),
            mismatches: None,
            mismatch: None,
            conflict: None,
            fault: None,
            members: rec.map(|r| r.members),
            held: None,
            peers: rec
                .map(|r| r.peers.iter().map(|&a| Peer { addr: a.into(), ago_ms: None }).collect())
                .unwrap_or_default(),
            trackers: Vec::new(),
            preempt_left_ms: None,
            v6: None,
            problem: Some(if dead { "process is dead".to_string() } else { why.to_string() }),
        }
    }

    /// "eth0 vrid 51" (the label already says it when several vrids share the interface).
    pub fn who(&self) -> String {
        match self.vrid {
            Some(v) if !self.label.contains(" vrid ") => format!("{} vrid {v}", self.label),
            _ => self.label.clone(),
        }
    }

    /// A live member whose link is down.
    pub fn link_down(&self) -> bool {
        self.problem.is_none() && self.link_up == Some(false)
    }
}

/// "-" for a field the row does not have.
pub fn dash<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

pub fn link_word(up: Option<bool>) -> &'static str {
    match up {
        Some(true) => "up",
        Some(false) => "down",
        None => "-",
    }
}
