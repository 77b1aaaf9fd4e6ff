//! The INFO answer: everything atropos shows about a member, as one typed record with one codec (the
//! daemon encodes it, atropos decodes it; the line format is that of [`crate::control`]).

use crate::arp::{fmt_mac, parse_mac};
use crate::cli::{Vip, parse_vip};
use crate::control::{Message, state_from};
use crate::fsm::State;
use crate::packet::DropKind;
use crate::profile::{Interval, Version};
use crate::rundir::MemberId;
use std::net::IpAddr;

/// The last master heard on the member's LAN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heard {
    pub src: IpAddr,
    pub priority: u8,
    pub ago_ms: u64,
}

/// A router heard with another interval than ours (accepted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub peer: IpAddr,
    pub interval: Interval,
}

/// While MASTER: another router advertising our vrid whose adverts we drop (possible split brain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub peer: IpAddr,
    pub priority: u8,
    pub kind: DropKind,
    pub ago_ms: u64,
}

/// A `--peer` and when it was last heard (ms ago; `None`: never).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub addr: IpAddr,
    pub ago_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    pub ifname: String,
    pub vrid: u8,
    pub pid: u32,
    pub state: State,
    /// Won its own LAN's election.
    pub wants: bool,
    pub priority: u8,
    pub cfg_priority: u8,
    pub preempt: bool,
    /// The VRRP version spoken (2 in answers of older members).
    pub version: Version,
    pub interval: Interval,
    pub mac: [u8; 6],
    pub omac: [u8; 6],
    /// Sets the virtual MAC (no -n).
    pub vmac: bool,
    pub vips: Vec<Vip>,
    pub link_up: bool,
    pub heard: Option<Heard>,
    /// Unix ms of the last transition.
    pub since_ms: u64,
    pub reason: String,
    pub sent: u64,
    pub received: u64,
    /// Drop kinds with a count above zero.
    pub drops: Vec<(DropKind, u64)>,
    /// `-M` (0 alone), and how many members are present (us included).
    pub members: u32,
    pub present: u32,
    pub siblings: Vec<MemberId>,
    pub drained: bool,
    /// Why the host is held BACKUP (empty when it may be MASTER).
    pub held: String,
    pub strict_interval: bool,
    /// Why the member cannot advertise (out of the election).
    pub fault: Option<String>,
    pub interval_mismatches: u64,
    pub mismatch: Option<Mismatch>,
    pub conflict: Option<Conflict>,
    /// Unicast peers (empty: multicast).
    pub peers: Vec<Peer>,
    /// `--track-*`, in command-line order.
    pub trackers: Vec<crate::track::Tracked>,
    /// The preempt delay still running (ms left).
    pub preempt_left_ms: Option<u64>,
    /// The IPv6 router of a dual-stack member (VRRPv3); `None` for IPv4 only.
    pub v6: Option<crate::info6::Router6>,
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// `KEY`, `KEY_prio`, `KEY_ago_ms`: a master heard (shared by both families' fields).
pub(crate) fn encode_heard(m: Message, key: &str, h: Option<&Heard>) -> Message {
    m.with(key, opt(h.map(|h| h.src)))
        .with(&format!("{key}_prio"), opt(h.map(|h| h.priority)))
        .with(&format!("{key}_ago_ms"), opt(h.map(|h| h.ago_ms)))
}

pub(crate) fn decode_heard(m: &Message, key: &str) -> Option<Heard> {
    let some = |k: &str| m.get(k).filter(|v| !v.is_empty() && *v != "-");
    let src = some(key)?.parse().ok()?;
    let priority = some(&format!("{key}_prio"))?.parse().ok()?;
    Some(Heard { src, priority, ago_ms: some(&format!("{key}_ago_ms")).and_then(|v| v.parse().ok()).unwrap_or(0) })
}

/// `KIND:COUNT,...`: the drop kinds counted above zero.
pub(crate) fn encode_drops(m: Message, key: &str, drops: &[(DropKind, u64)]) -> Message {
    m.with(key, drops.iter().map(|(k, n)| format!("{}:{n}", k.name())).collect::<Vec<_>>().join(","))
}

pub(crate) fn decode_drops(m: &Message, key: &str) -> Result<Vec<(DropKind, u64)>, String> {
    let bad = || format!("INFO: bad {key}");
    m.get(key)
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|d| {
            let (k, n) = d.split_once(':').ok_or_else(bad)?;
            Ok((DropKind::from_name(k).ok_or_else(bad)?, n.parse().map_err(|_| bad())?))
        })
        .collect()
}

impl Info {
    pub fn to_message(&self) -> Message {
        let join = |v: Vec<String>| v.join(",");
        let m = Message::new("INFO")
            .with("if", &self.ifname)
            .with("vrid", self.vrid)
            .with("pid", self.pid)
            .with("state", self.state.name())
            .with("wants", u8::from(self.wants))
            .with("prio", self.priority)
            .with("cfgprio", self.cfg_priority)
            .with("preempt", u8::from(self.preempt))
            .with("ver", self.version.number())
            .with("intcs", self.interval.centis())
            .with("mac", fmt_mac(&self.mac))
            .with("omac", fmt_mac(&self.omac))
            .with("vmac", u8::from(self.vmac))
            .with("vips", join(self.vips.iter().map(|v| v.to_string()).collect()))
            .with("link", if self.link_up { "up" } else { "down" })
            .with("since", self.since_ms)
            .with("reason", &self.reason)
            .with("sent", self.sent)
            .with("recv", self.received)
            .with("members", self.members)
            .with("present", self.present)
            .with("siblings", join(self.siblings.iter().map(|s| s.stem()).collect()))
            .with("drained", u8::from(self.drained))
            .with("held", &self.held)
            .with("strict", u8::from(self.strict_interval))
            .with("fault", self.fault.as_deref().unwrap_or("-"))
            .with("imm", self.interval_mismatches)
            .with("imm_peer", opt(self.mismatch.as_ref().map(|m| m.peer)))
            .with("imm_intcs", opt(self.mismatch.as_ref().map(|m| m.interval.centis())))
            .with("conflict_peer", opt(self.conflict.as_ref().map(|c| c.peer)))
            .with("conflict_prio", opt(self.conflict.as_ref().map(|c| c.priority)))
            .with("conflict_kind", self.conflict.as_ref().map(|c| c.kind.name()).unwrap_or("-"))
            .with("conflict_why", self.conflict.as_ref().map(|c| c.kind.describe()).unwrap_or("-"))
            .with("conflict_ago_ms", opt(self.conflict.as_ref().map(|c| c.ago_ms)))
            .with("peers", join(self.peers.iter().map(|p| format!("{}@{}", p.addr, opt(p.ago_ms))).collect()))
            .with("pdelay_ms", opt(self.preempt_left_ms));
        let m = encode_drops(encode_heard(m, "heard", self.heard.as_ref()), "drops", &self.drops);
        crate::info6::encode(self.v6.as_ref(), crate::track::encode(&self.trackers, m))
    }

    /// Decodes an INFO answer; one line naming the first bad field otherwise.
    pub fn from_message(m: &Message) -> Result<Info, String> {
        if m.verb != "INFO" {
            return Err(format!("expected INFO, got {}", m.verb));
        }
        let get = |k: &str| m.get(k).ok_or_else(|| format!("INFO without {k}"));
        let bad = |k: &str| format!("INFO: bad {k}");
        let num = |k: &str| -> Result<u64, String> { get(k)?.parse().map_err(|_| bad(k)) };
        let small = |k: &str| -> Result<u8, String> { get(k)?.parse().map_err(|_| bad(k)) };
        let flag = |k: &str| m.get(k) == Some("1");
        // Optional fields ("-" or absent): absent in answers of older members.
        let some = |k: &str| m.get(k).filter(|v| !v.is_empty() && *v != "-");
        let mac = |k: &str| get(k).and_then(|v| parse_mac(v).ok_or_else(|| bad(k)));
        let list = |k: &str| m.get(k).unwrap_or("").split(',').filter(|s| !s.is_empty()).map(str::to_string);
        let heard = decode_heard(m, "heard");
        let mismatch =
            match (some("imm_peer").and_then(|v| v.parse().ok()), some("imm_intcs").and_then(|v| v.parse().ok())) {
                (Some(peer), Some(cs)) => Some(Mismatch { peer, interval: Interval::from_centis(cs) }),
                _ => None,
            };
        let conflict = match (
            some("conflict_peer").and_then(|v| v.parse().ok()),
            some("conflict_prio").and_then(|v| v.parse().ok()),
            some("conflict_kind").and_then(DropKind::from_name),
        ) {
            (Some(peer), Some(priority), Some(kind)) => Some(Conflict {
                peer,
                priority,
                kind,
                ago_ms: some("conflict_ago_ms").and_then(|v| v.parse().ok()).unwrap_or(0),
            }),
            _ => None,
        };
        Ok(Info {
            ifname: get("if")?.to_string(),
            vrid: small("vrid")?,
            pid: num("pid")? as u32,
            state: state_from(get("state")?).ok_or_else(|| bad("state"))?,
            wants: flag("wants"),
            priority: small("prio")?,
            cfg_priority: small("cfgprio")?,
            preempt: flag("preempt"),
            version: match m.get("ver") {
                None | Some("2") => Version::V2,
                Some("3") => Version::V3,
                Some(_) => return Err(bad("ver")),
            },
            interval: Interval::from_centis(get("intcs")?.parse().map_err(|_| bad("intcs"))?),
            mac: mac("mac")?,
            omac: mac("omac")?,
            vmac: flag("vmac"),
            vips: list("vips").map(|v| parse_vip(&v).map_err(|_| bad("vips"))).collect::<Result<_, _>>()?,
            link_up: get("link")? == "up",
            heard,
            since_ms: num("since")?,
            reason: m.get("reason").unwrap_or("").to_string(),
            sent: num("sent")?,
            received: num("recv")?,
            drops: decode_drops(m, "drops")?,
            members: num("members")? as u32,
            present: num("present")? as u32,
            siblings: list("siblings").filter_map(|s| MemberId::from_stem(&s)).collect(),
            drained: flag("drained"),
            held: m.get("held").unwrap_or("").to_string(),
            strict_interval: flag("strict"),
            fault: some("fault").map(str::to_string),
            interval_mismatches: some("imm").and_then(|v| v.parse().ok()).unwrap_or(0),
            mismatch,
            conflict,
            peers: list("peers")
                .map(|p| {
                    // "ADDR@MS" (heard MS ms ago) or "ADDR@-" (never heard).
                    let (a, ago) = p.split_once('@').ok_or_else(|| bad("peers"))?;
                    let ago_ms = match ago {
                        "-" => None,
                        n => Some(n.parse().map_err(|_| bad("peers"))?),
                    };
                    Ok(Peer { addr: a.parse().map_err(|_| bad("peers"))?, ago_ms })
                })
                .collect::<Result<_, String>>()?,
            trackers: crate::track::decode(m)?,
            preempt_left_ms: some("pdelay_ms").and_then(|v| v.parse().ok()),
            v6: crate::info6::decode(m)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn sample() -> Info {
        Info {
            ifname: "eth0".into(),
            vrid: 51,
            pid: 1234,
            state: State::Master,
            wants: true,
            priority: 100,
            cfg_priority: 110,
            preempt: true,
            version: Version::V3,
            interval: Interval::from_secs(1),
            mac: [0, 0, 0x5e, 0, 1, 51],
            omac: [2, 0, 0, 0, 0, 1],
            vmac: true,
            vips: vec![parse_vip("10.16.1.200").unwrap(), parse_vip("10.16.2.0/24").unwrap()],
            link_up: true,
            heard: Some(Heard { src: Ipv4Addr::new(10, 16, 1, 3).into(), priority: 90, ago_ms: 250 }),
            since_ms: 1_700_000_000_000,
            reason: "no advert for 3.61 s\t(tab)".into(),
            sent: 7,
            received: 9,
            drops: vec![(DropKind::AuthData, 3), (DropKind::Ttl, 1)],
            members: 2,
            present: 2,
            siblings: vec![MemberId::new("eth1", 52)],
            drained: false,
            held: String::new(),
            strict_interval: false,
            fault: Some("cannot send adverts: Network is unreachable".into()),
            interval_mismatches: 4,
            mismatch: Some(Mismatch { peer: Ipv4Addr::new(10, 16, 1, 3).into(), interval: Interval::from_secs(2) }),
            peers: vec![
                Peer { addr: Ipv4Addr::new(10, 16, 1, 3).into(), ago_ms: Some(40) },
                Peer { addr: Ipv4Addr::new(10, 16, 1, 4).into(), ago_ms: None },
            ],
            trackers: vec![crate::track::Tracked {
                kind: crate::track::Kind::Process,
                name: "haproxy".into(),
                health: crate::track::Health::Failed,
                since_ms: 1_700_000_000_000,
                detail: "no process named haproxy".into(),
            }],
            preempt_left_ms: Some(1500),
            v6: Some(crate::info6::tests::sample()),
            conflict: Some(Conflict {
                peer: Ipv4Addr::new(10, 16, 1, 3).into(),
                priority: 110,
                kind: DropKind::AuthData,
                ago_ms: 40,
            }),
        }
    }

    #[test]
    fn roundtrip_through_the_line() {
        let i = sample();
        let line = i.to_message().encode();
        let back = Info::from_message(&Message::decode(line.trim_end()).unwrap()).unwrap();
        assert_eq!(back, Info { reason: "no advert for 3.61 s (tab)".into(), ..i });
        // None / empty fields too.
        let bare = Info {
            heard: None,
            fault: None,
            mismatch: None,
            conflict: None,
            drops: vec![],
            siblings: vec![],
            peers: vec![],
            trackers: vec![],
            preempt_left_ms: None,
            v6: None,
            ..sample()
        };
        let back = Info::from_message(&Message::decode(bare.to_message().encode().trim_end()).unwrap()).unwrap();
        assert_eq!((back.heard, back.v6), (None, None));
        assert_eq!((back.fault, back.mismatch, back.conflict), (None, None, None));
        assert!(back.drops.is_empty() && back.siblings.is_empty() && back.peers.is_empty());
    }

    #[test]
    fn a_bad_field_is_named() {
        let mut m = sample().to_message();
        m.fields.insert("prio".into(), "high".into());
        assert_eq!(Info::from_message(&m).unwrap_err(), "INFO: bad prio");
        m.fields.remove("prio");
        assert_eq!(Info::from_message(&m).unwrap_err(), "INFO without prio");
        assert!(Info::from_message(&Message::new("OK")).is_err());
        for peers in ["10.16.1.3", "10.16.1.3@soon", "nowhere@40"] {
            let mut m = sample().to_message();
            m.fields.insert("peers".into(), peers.into());
            assert_eq!(Info::from_message(&m).unwrap_err(), "INFO: bad peers", "{peers}");
        }
    }
}
