//! The trackers of the rows (`--track-*`): the host's problems they make, their line in the table and
//! their JSON.

use crate::row::Row;
use serde_json::{Value, json};
use vrrpd::track::{Health, Tracked};

/// "12:34:56 UTC" of a Unix ms time (the log's clock is UTC too).
fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02} UTC", s / 3600 % 24, s / 60 % 60, s % 60)
}

fn ago(ms: u64) -> String {
    let d = vrrpd::rundir::unix_ms().saturating_sub(ms);
    format!("{}.{:01} s ago", d / 1000, d % 1000 / 100)
}

/// One problem per tracker that is not healthy (members tracking the same thing give one line
/// naming them), with its monitoring level: failed is CRITICAL, no result yet a WARNING.
pub fn problems(rows: &[&Row]) -> Vec<(String, u8)> {
    let mut seen: Vec<(&Tracked, Vec<&str>)> = Vec::new();
    for r in rows {
        for t in r.trackers.iter().filter(|t| t.health != Health::Healthy) {
            match seen.iter_mut().find(|(s, _)| s.kind == t.kind && s.name == t.name && s.health == t.health) {
                Some((s, who)) => {
                    if t.since_ms < s.since_ms {
                        *s = t;
                    }
                    who.push(&r.label);
                }
                None => seen.push((t, vec![&r.label])),
            }
        }
    }
    seen.into_iter()
        .map(|(t, who)| {
            let on = who.join(", ");
            match t.health {
                Health::Pending => (
                    format!("tracker {} {} has no result yet ({on}): the host stays BACKUP", t.kind.name(), t.name),
                    crate::state::WARNING,
                ),
                _ => (
                    format!(
                        "tracker {} {} failed since {} ({}): {} ({on}): the host stays BACKUP",
                        t.kind.name(),
                        t.name,
                        clock(t.since_ms),
                        ago(t.since_ms),
                        t.detail
                    ),
                    crate::state::CRITICAL,
                ),
            }
        })
        .collect()
}

/// The line under a member with trackers: "trackers: process haproxy healthy (pid 42), ...".
pub fn line(r: &Row) -> Option<String> {
    if r.trackers.is_empty() && r.preempt_left_ms.is_none() {
        return None;
    }
    let mut parts: Vec<String> = r
        .trackers
        .iter()
        .map(|t| format!("{} {} {} {} ({})", t.kind.name(), t.name, t.health.name(), ago(t.since_ms), t.detail))
        .collect();
    if let Some(ms) = r.preempt_left_ms {
        parts.push(format!("preempt delay {}.{:01} s left", ms / 1000, ms % 1000 / 100));
    }
    Some(format!("trackers: {}", parts.join(", ")))
}

pub fn json(r: &Row) -> Value {
    r.trackers
        .iter()
        .map(|t| {
            json!({
                "kind": t.kind.name(),
                "name": t.name,
                "state": t.health.name(),
                "since_ms": t.since_ms,
                "detail": t.detail,
            })
        })
        .collect()
}
