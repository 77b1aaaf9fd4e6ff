//! Service trackers (pure): what the host's health depends on besides its links (processes, check
//! scripts, other interfaces), each tracker's health with fall/rise counting, and the fault a tracker
//! that is not healthy puts on the whole host.

use crate::control::Message;
use std::time::Duration;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
/// Longest accepted name of a tracked process: the kernel keeps 15 bytes of it (`comm`).
pub const MAX_COMM: usize = 15;
/// Most `--track-process` options (each has its own pidfd and event token).
pub const MAX_PROCESSES: usize = 32;

/// The tracking options of the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    /// `--track-process NAME`: healthy while a process with this name (its `comm`) runs.
    pub processes: Vec<String>,
    /// `--track-script "CMD ARGS"`: argv, run without a shell every `interval`.
    pub scripts: Vec<Vec<String>>,
    /// `--track-interface IFNAME`: healthy while that interface is up with a carrier.
    pub interfaces: Vec<String>,
    pub interval: Duration,
    /// A check still running after this long is killed and counts as a failure.
    pub timeout: Duration,
    /// Consecutive failures that make a healthy script tracker fail.
    pub fall: u32,
    /// Consecutive successes that make a failed (or new) script tracker healthy.
    pub rise: u32,
}

impl Spec {
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty() && self.scripts.is_empty() && self.interfaces.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Process,
    Script,
    Interface,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Process => "process",
            Kind::Script => "script",
            Kind::Interface => "interface",
        }
    }

    pub fn from_name(s: &str) -> Option<Kind> {
        [Kind::Process, Kind::Script, Kind::Interface].into_iter().find(|k| k.name() == s)
    }
}

/// Pending: no result yet (counts as not healthy: a host does not take MASTER before it knows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Pending,
    Healthy,
    Failed,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::Pending => "pending",
            Health::Healthy => "healthy",
            Health::Failed => "failed",
        }
    }

    pub fn from_name(s: &str) -> Option<Health> {
        [Health::Pending, Health::Healthy, Health::Failed].into_iter().find(|h| h.name() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracker {
    pub kind: Kind,
    /// The process name, the script's command line or the interface name.
    pub name: String,
    pub health: Health,
    /// Unix ms of the last change of health (of the start while pending).
    pub since_ms: u64,
    /// The last result in words ("pid 1234", "exit status 1", "no carrier"...).
    pub detail: String,
    fall: u32,
    rise: u32,
    /// The last result, and how many in a row gave it.
    last_ok: Option<bool>,
    run: u32,
}

impl Tracker {
    pub fn new(kind: Kind, name: &str, fall: u32, rise: u32, now_ms: u64) -> Tracker {
        Tracker {
            kind,
            name: name.to_string(),
            health: Health::Pending,
            since_ms: now_ms,
            detail: "no result yet".into(),
            fall: fall.max(1),
            rise: rise.max(1),
            last_ok: None,
            run: 0,
        }
    }

    /// Records one result. Healthy needs `rise` successes in a row (also from pending), failed
    /// needs `fall` failures in a row from healthy and one from pending. Returns the new health
    /// when it changed.
    pub fn result(&mut self, ok: bool, detail: impl Into<String>, now_ms: u64) -> Option<Health> {
        self.detail = detail.into();
        self.run = if self.last_ok == Some(ok) { self.run.saturating_add(1) } else { 1 };
        self.last_ok = Some(ok);
        let (target, need) = match (ok, self.health) {
            (true, _) => (Health::Healthy, self.rise),
            (false, Health::Pending) => (Health::Failed, 1),
            (false, _) => (Health::Failed, self.fall),
        };
        if self.health == target || self.run < need {
            return None;
        }
        self.health = target;
        self.since_ms = now_ms;
        Some(target)
    }

    /// "process haproxy", "script /usr/local/bin/check-web", "interface bond0".
    pub fn label(&self) -> String {
        format!("{} {}", self.kind.name(), self.name)
    }

    pub fn view(&self) -> Tracked {
        Tracked {
            kind: self.kind,
            name: self.name.clone(),
            health: self.health,
            since_ms: self.since_ms,
            detail: self.detail.clone(),
        }
    }
}

/// What atropos shows of a tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked {
    pub kind: Kind,
    pub name: String,
    pub health: Health,
    pub since_ms: u64,
    pub detail: String,
}

/// The trackers as fields of an INFO answer: `trks=N`, then `trkI=KIND HEALTH SINCE_MS`, `trknameI`, `trkwhyI`.
pub fn encode(list: &[Tracked], mut m: Message) -> Message {
    m = m.with("trks", list.len());
    for (i, t) in list.iter().enumerate() {
        m = m
            .with(&format!("trk{i}"), format!("{} {} {}", t.kind.name(), t.health.name(), t.since_ms))
            .with(&format!("trkname{i}"), &t.name)
            .with(&format!("trkwhy{i}"), &t.detail);
    }
    m
}

/// The trackers of an INFO answer (none in answers of older members).
pub fn decode(m: &Message) -> Result<Vec<Tracked>, String> {
    let bad = || "INFO: bad trackers".to_string();
    let n: usize = m.get("trks").map_or(Ok(0), |v| v.parse().map_err(|_| bad()))?;
    if n > 1024 {
        return Err(bad());
    }
    (0..n)
        .map(|i| {
            let head = m.get(&format!("trk{i}")).ok_or_else(bad)?;
            let mut w = head.split(' ');
            let kind = w.next().and_then(Kind::from_name).ok_or_else(bad)?;
            let health = w.next().and_then(Health::from_name).ok_or_else(bad)?;
            let since_ms = w.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
            let name = m.get(&format!("trkname{i}")).ok_or_else(bad)?.to_string();
            let detail = m.get(&format!("trkwhy{i}")).unwrap_or("").to_string();
            Ok(Tracked { kind, name, health, since_ms, detail })
        })
        .collect()
}

/// Every tracker of this member, in command-line order (processes, scripts, interfaces).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trackers {
    pub list: Vec<Tracker>,
}

impl Trackers {
    pub fn new(spec: &Spec, now_ms: u64) -> Trackers {
        let mut list = Vec::new();
        for p in &spec.processes {
            list.push(Tracker::new(Kind::Process, p, 1, 1, now_ms));
        }
        for s in &spec.scripts {
            list.push(Tracker::new(Kind::Script, &s.join(" "), spec.fall, spec.rise, now_ms));
        }
        for i in &spec.interfaces {
            list.push(Tracker::new(Kind::Interface, i, 1, 1, now_ms));
        }
        Trackers { list }
    }

    /// Why the host may not be MASTER: the first tracker that is not healthy (`None`: all are).
    pub fn fault(&self) -> Option<String> {
        self.list.iter().find(|t| t.health != Health::Healthy).map(|t| match t.health {
            Health::Pending => format!("tracker {} has no result yet", t.label()),
            _ => format!("tracker {} failed ({})", t.label(), t.detail),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fall_and_rise_count_results_in_a_row() {
        let mut t = Tracker::new(Kind::Script, "/bin/check", 2, 3, 0);
        assert_eq!(t.health, Health::Pending);
        // From pending: `rise` successes in a row.
        assert_eq!(t.result(true, "exit status 0", 1), None);
        assert_eq!(t.result(true, "exit status 0", 2), None);
        assert_eq!(t.result(true, "exit status 0", 3), Some(Health::Healthy));
        assert_eq!(t.since_ms, 3);
        // One failure is not enough with fall 2; a success in between starts the count again.
        assert_eq!(t.result(false, "exit status 1", 4), None);
        assert_eq!(t.result(true, "exit status 0", 5), None);
        assert_eq!(t.result(false, "exit status 1", 6), None);
        assert_eq!(t.result(false, "timed out after 1.00 s", 7), Some(Health::Failed));
        assert_eq!((t.since_ms, t.detail.as_str()), (7, "timed out after 1.00 s"));
        assert_eq!(t.result(false, "exit status 1", 8), None);
        // Back: `rise` successes in a row again.
        assert_eq!(t.result(true, "exit status 0", 9), None);
        assert_eq!(t.result(false, "exit status 1", 10), None);
        for ms in 11..13 {
            assert_eq!(t.result(true, "exit status 0", ms), None);
        }
        assert_eq!(t.result(true, "exit status 0", 13), Some(Health::Healthy));
    }

    #[test]
    fn a_failure_while_pending_fails_at_once() {
        let mut t = Tracker::new(Kind::Script, "/bin/check", 3, 3, 0);
        assert_eq!(t.result(false, "exit status 2", 1), Some(Health::Failed));
        let mut p = Tracker::new(Kind::Process, "haproxy", 1, 1, 0);
        assert_eq!(p.result(true, "pid 42", 1), Some(Health::Healthy));
        assert_eq!(p.result(false, "no process named haproxy", 2), Some(Health::Failed));
    }

    #[test]
    fn the_host_fault_names_the_first_tracker_not_healthy() {
        let spec = Spec {
            processes: vec!["haproxy".into()],
            scripts: vec![vec!["/usr/local/bin/check".into(), "web".into()]],
            interfaces: vec!["bond0".into()],
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_INTERVAL,
            fall: 1,
            rise: 1,
        };
        let mut ts = Trackers::new(&spec, 0);
        assert_eq!(ts.list.len(), 3);
        assert_eq!(ts.fault().as_deref(), Some("tracker process haproxy has no result yet"));
        for t in &mut ts.list {
            t.result(true, "ok", 1);
        }
        assert_eq!(ts.fault(), None);
        ts.list[2].result(false, "no carrier", 2);
        assert_eq!(ts.fault().as_deref(), Some("tracker interface bond0 failed (no carrier)"));
        assert_eq!(ts.list[1].label(), "script /usr/local/bin/check web");
        assert!(Trackers::new(&Spec::default(), 0).fault().is_none());
    }

    #[test]
    fn trackers_round_trip_through_an_info_line() {
        let mut t = Tracker::new(Kind::Script, "/usr/local/bin/check web\t8080", 1, 1, 5);
        t.result(false, "exit status 1", 1_700_000_000_123);
        let list = vec![t.view(), Tracker::new(Kind::Process, "haproxy", 1, 1, 9).view()];
        let line = encode(&list, Message::new("INFO")).encode();
        let back = decode(&Message::decode(line.trim_end()).unwrap()).unwrap();
        assert_eq!(back[0].name, "/usr/local/bin/check web 8080", "tabs cannot break the line");
        assert_eq!(
            (back[0].health, back[0].since_ms, back[0].detail.as_str()),
            (Health::Failed, 1_700_000_000_123, "exit status 1")
        );
        assert_eq!(back[1], list[1]);
        assert_eq!(decode(&Message::new("INFO")).unwrap(), vec![]);
        for bad in ["trks=1", "trks=1\ttrk0=process sick 1\ttrkname0=x", "trks=x"] {
            let m = Message::decode(&format!("INFO\t{bad}")).unwrap();
            assert_eq!(decode(&m).unwrap_err(), "INFO: bad trackers", "{bad}");
        }
    }
}
