//! Messages on the Unix sockets of the run dir, between members of a group and from atropos (pure).
//!
//! One message per line: a verb, then tab-separated `key=value` fields (values never hold a tab or a
//! newline). Siblings send `HELLO` once, `STATUS` on every change, `BYE` before a clean stop. atropos
//! sends one request (`GET`, `DRAIN`, `RESUME`, `REDUCE`, `INCREASE`) and reads one answer (`INFO`, `OK`
//! or `ERR`).

use crate::fsm::State;
use crate::group::Status;
use std::collections::BTreeMap;

/// Longest line accepted; a peer that sends more without a newline is cut off.
pub const MAX_LINE: usize = 8192;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub verb: String,
    pub fields: BTreeMap<String, String>,
}

/// A value as a field of a line: tabs and newlines (the framing) become spaces. Shared with the state file.
pub fn clean(s: &str) -> String {
    s.chars().map(|c| if c == '\t' || c == '\n' || c == '\r' { ' ' } else { c }).collect()
}

impl Message {
    pub fn new(verb: &str) -> Message {
        Message { verb: verb.to_string(), fields: BTreeMap::new() }
    }

    pub fn with(mut self, k: &str, v: impl ToString) -> Message {
        self.fields.insert(k.to_string(), clean(&v.to_string()));
        self
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.fields.get(k).map(|s| s.as_str())
    }

    pub fn encode(&self) -> String {
        let mut s = self.verb.clone();
        for (k, v) in &self.fields {
            s.push('\t');
            s.push_str(k);
            s.push('=');
            s.push_str(v);
        }
        s.push('\n');
        s
    }

    /// Parses one line (without its newline).
    pub fn decode(line: &str) -> Result<Message, String> {
        let mut parts = line.split('\t');
        let verb = parts.next().unwrap_or("");
        if verb.is_empty() || !verb.chars().all(|c| c.is_ascii_uppercase()) {
            return Err("malformed request: expected an upper-case verb".into());
        }
        let mut m = Message::new(verb);
        for p in parts {
            let (k, v) = p.split_once('=').ok_or_else(|| format!("malformed field {p:?}: expected key=value"))?;
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("malformed field name {k:?}"));
            }
            m.fields.insert(k.to_string(), v.to_string());
        }
        Ok(m)
    }
}

pub fn state_from(s: &str) -> Option<State> {
    match s {
        "INIT" => Some(State::Initialize),
        "BACKUP" => Some(State::Backup),
        "MASTER" => Some(State::Master),
        _ => None,
    }
}

/// `STATUS` / `HELLO` body of a member.
pub fn status_msg(verb: &str, s: &Status) -> Message {
    Message::new(verb)
        .with("if", &s.ifname)
        .with("vrid", s.vrid)
        .with("pid", s.pid)
        .with("state", s.state.name())
        .with("wants", u8::from(s.wants))
        .with("link", if s.link_up { "up" } else { "down" })
        .with("prio", s.prio)
        .with("resign", u8::from(s.resigned))
        .with("fault", u8::from(s.fault))
        .with("members", s.members)
        .with("track", s.tracker.as_deref().unwrap_or("-"))
}

pub fn parse_status(m: &Message) -> Result<Status, String> {
    let need = |k: &str| m.get(k).ok_or_else(|| format!("{} without {k}", m.verb));
    let ifname = need("if")?.to_string();
    if ifname.is_empty() || ifname.len() > 15 {
        return Err("bad interface name".into());
    }
    Ok(Status {
        ifname,
        vrid: need("vrid")?.parse().map_err(|_| "bad vrid")?,
        pid: need("pid")?.parse().map_err(|_| "bad pid")?,
        state: state_from(need("state")?).ok_or("bad state")?,
        wants: need("wants")? == "1",
        link_up: need("link")? == "up",
        prio: need("prio")?.parse().map_err(|_| "bad priority")?,
        // Optional: members of an older version do not send them.
        resigned: m.get("resign") == Some("1"),
        fault: m.get("fault") == Some("1"),
        members: m.get("members").and_then(|v| v.parse().ok()).unwrap_or(0),
        tracker: m.get("track").filter(|t| !t.is_empty() && *t != "-").map(str::to_string),
    })
}

/// Requests atropos may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Get,
    Drain,
    Resume,
    Reduce,
    Increase,
}

impl Request {
    pub fn verb(self) -> &'static str {
        match self {
            Request::Get => "GET",
            Request::Drain => "DRAIN",
            Request::Resume => "RESUME",
            Request::Reduce => "REDUCE",
            Request::Increase => "INCREASE",
        }
    }
    pub fn from_verb(v: &str) -> Option<Request> {
        [Request::Get, Request::Drain, Request::Resume, Request::Reduce, Request::Increase]
            .into_iter()
            .find(|r| r.verb() == v)
    }
}

/// Splits complete lines off a receive buffer. Returns `Err` when a line is longer than [`MAX_LINE`].
pub fn take_lines(buf: &mut Vec<u8>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = buf.drain(..=pos).collect();
        out.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
    }
    if buf.len() > MAX_LINE {
        return Err(format!("line longer than {MAX_LINE} bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_roundtrip() {
        let s = Status {
            ifname: "eth1".into(),
            vrid: 52,
            pid: 42,
            state: State::Master,
            wants: true,
            link_up: false,
            prio: 110,
            resigned: true,
            fault: true,
            members: 3,
            tracker: Some("tracker process haproxy failed (no process named haproxy)".into()),
        };
        let line = status_msg("STATUS", &s).encode();
        assert!(line.ends_with('\n'));
        let m = Message::decode(line.trim_end()).unwrap();
        assert_eq!(m.verb, "STATUS");
        assert_eq!(parse_status(&m).unwrap(), s);
    }

    #[test]
    fn values_cannot_break_the_framing() {
        let m = Message::new("OK").with("reason", "a\tb\nc");
        assert_eq!(m.encode(), "OK\treason=a b c\n");
    }

    #[test]
    fn malformed_requests_are_errors() {
        for bad in ["", "get", "GET\tnovalue", "GET\t=x", "G-T", "GET\tk y=1"] {
            assert!(Message::decode(bad).is_err(), "{bad:?}");
        }
        assert!(parse_status(&Message::decode("STATUS\tif=eth0").unwrap()).is_err());
        assert!(
            parse_status(
                &Message::decode("STATUS\tif=eth0\tvrid=300\tpid=1\tstate=MASTER\twants=1\tlink=up\tprio=1").unwrap()
            )
            .is_err()
        );
        assert_eq!(Request::from_verb("DRAIN"), Some(Request::Drain));
        assert_eq!(Request::from_verb("REBOOT"), None);
    }

    #[test]
    fn line_splitting() {
        let mut b = b"GET\nSTAT".to_vec();
        assert_eq!(take_lines(&mut b).unwrap(), vec!["GET".to_string()]);
        assert_eq!(b, b"STAT");
        b.extend_from_slice(b"US\n");
        assert_eq!(take_lines(&mut b).unwrap(), vec!["STATUS".to_string()]);
        let mut huge = vec![b'A'; MAX_LINE + 1];
        assert!(take_lines(&mut huge).is_err());
    }
}
