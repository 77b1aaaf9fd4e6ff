//! The IPv6 virtual router's part of the INFO answer (VRRPv3, dual-stack members): its fields and codec.

use crate::cli::v6::{Vip6, parse_vip6};
use crate::control::Message;
use crate::info::{Heard, decode_drops, decode_heard, encode_drops, encode_heard};
use crate::packet::DropKind;
use std::net::Ipv6Addr;

/// What atropos shows of a member's IPv6 router: its addresses, the source of its adverts, the master
/// heard over IPv6 and the IPv6 side's own counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Router6 {
    /// Link-local first (the advert's order).
    pub vips: Vec<Vip6>,
    /// Our link-local address, the source of our IPv6 adverts (`None`: none usable yet).
    pub source: Option<Ipv6Addr>,
    pub heard: Option<Heard>,
    pub sent: u64,
    pub received: u64,
    pub drops: Vec<(DropKind, u64)>,
}

/// Adds the IPv6 router's fields (none for an IPv4-only member).
pub fn encode(r: Option<&Router6>, m: Message) -> Message {
    let Some(r) = r else { return m };
    let vips: Vec<String> = r.vips.iter().map(|v| v.to_string()).collect();
    let m = m
        .with("vips6", vips.join(","))
        .with("src6", r.source.map(|a| a.to_string()).unwrap_or_else(|| "-".into()))
        .with("sent6", r.sent)
        .with("recv6", r.received);
    encode_drops(encode_heard(m, "heard6", r.heard.as_ref()), "drops6", &r.drops)
}

/// The IPv6 router of an INFO answer: `None` when the member has no IPv6 addresses (no `vips6`).
pub fn decode(m: &Message) -> Result<Option<Router6>, String> {
    let Some(list) = m.get("vips6") else { return Ok(None) };
    let bad = |k: &str| format!("INFO: bad {k}");
    let num = |k: &str| -> Result<u64, String> { m.get(k).unwrap_or("0").parse().map_err(|_| bad(k)) };
    let vips = list
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|v| parse_vip6(v).map_err(|_| bad("vips6")))
        .collect::<Result<_, _>>()?;
    let source = match m.get("src6") {
        None | Some("-") => None,
        Some(a) => Some(a.parse().map_err(|_| bad("src6"))?),
    };
    Ok(Some(Router6 {
        vips,
        source,
        heard: decode_heard(m, "heard6"),
        sent: num("sent6")?,
        received: num("recv6")?,
        drops: decode_drops(m, "drops6")?,
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample() -> Router6 {
        Router6 {
            vips: vec![parse_vip6("fe80::51").unwrap(), parse_vip6("2001:db8:a::200/64").unwrap()],
            source: Some("fe80::1".parse().unwrap()),
            heard: Some(Heard { src: "fe80::2".parse().unwrap(), priority: 100, ago_ms: 30 }),
            sent: 5,
            received: 12,
            drops: vec![(DropKind::Ttl, 2), (DropKind::Checksum, 1)],
        }
    }

    #[test]
    fn roundtrip_and_absent() {
        let r = sample();
        let m = Message::decode(encode(Some(&r), Message::new("INFO")).encode().trim_end()).unwrap();
        assert_eq!(m.get("drops6"), Some("ttl:2,checksum:1"));
        assert_eq!(decode(&m).unwrap(), Some(r.clone()));
        let bare = Router6 { source: None, heard: None, drops: vec![], ..r };
        let m = encode(Some(&bare), Message::new("INFO"));
        assert_eq!(decode(&m).unwrap(), Some(bare));
        assert_eq!(decode(&encode(None, Message::new("INFO"))).unwrap(), None);
    }

    #[test]
    fn a_bad_field_is_named() {
        for (k, v) in [("vips6", "10.0.0.1"), ("src6", "here"), ("sent6", "x"), ("drops6", "nonsense:1")] {
            let mut m = encode(Some(&sample()), Message::new("INFO"));
            m.fields.insert(k.into(), v.into());
            assert_eq!(decode(&m).unwrap_err(), format!("INFO: bad {k}"), "{k}={v}");
        }
    }
}
