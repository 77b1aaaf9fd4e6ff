//! A dual-stack member's IPv6 router (VRRPv3): its line under the member's row and its JSON object.

use crate::row::Row;
use crate::state::{drops_json, drops_text, secs_ms};
use serde_json::{Value, json};

/// "IPv6: fe80::51/128,2001:db8:a::200/64 from fe80::1, master heard fe80::2 (100), sent/recv 5/12, dropped ttl:2".
pub fn line(r: &Row) -> Option<String> {
    let v = r.v6.as_ref()?;
    let vips: Vec<String> = v.vips.iter().map(|a| a.to_string()).collect();
    let from = v.source.map_or_else(|| "no usable link-local source".to_string(), |a| format!("from {a}"));
    let heard = v.heard.as_ref().map_or_else(|| "-".to_string(), |h| format!("{} ({})", h.src, h.priority));
    let drops = drops_text(&v.drops);
    Some(format!(
        "IPv6: {} {from}, master heard {heard}, sent/recv {}/{}, dropped {drops}",
        vips.join(","),
        v.sent,
        v.received
    ))
}

/// The member's `"ipv6"` object (`null` for an IPv4-only member or one that did not answer).
pub fn json(r: &Row) -> Value {
    let Some(v) = r.v6.as_ref() else { return Value::Null };
    json!({
        "virtual_addresses": v.vips.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "source": v.source.map(|a| a.to_string()),
        "master_heard": v.heard.as_ref().map(|h| h.src.to_string()),
        "master_heard_priority": v.heard.as_ref().map(|h| h.priority),
        "master_heard_ago_s": v.heard.as_ref().map(|h| secs_ms(h.ago_ms)),
        "adverts_sent": v.sent,
        "adverts_received": v.received,
        "dropped": drops_json(&v.drops),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::member_json;
    use crate::state::tests::{info, live};
    use vrrpd::cli::v6::parse_vip6;
    use vrrpd::fsm::State;
    use vrrpd::info::Heard;
    use vrrpd::info6::Router6;
    use vrrpd::packet::DropKind;

    #[test]
    fn the_ipv6_router_has_its_line_and_object() {
        let mut i = info(State::Backup, 100);
        i.v6 = Some(Router6 {
            vips: vec![parse_vip6("fe80::51").unwrap(), parse_vip6("2001:db8:a::200/64").unwrap()],
            source: Some("fe80::1".parse().unwrap()),
            heard: Some(Heard { src: "fe80::2".parse().unwrap(), priority: 110, ago_ms: 30 }),
            sent: 0,
            received: 12,
            drops: vec![(DropKind::Ttl, 2)],
        });
        let r = live("eth0", &i);
        assert_eq!(
            line(&r).as_deref(),
            Some(
                "IPv6: fe80::51/128,2001:db8:a::200/64 from fe80::1, master heard fe80::2 (110), sent/recv 0/12, \
                 dropped ttl:2"
            )
        );
        let j = &member_json(&r)["ipv6"];
        assert_eq!(j["virtual_addresses"], json!(["fe80::51/128", "2001:db8:a::200/64"]));
        assert_eq!(j["source"], json!("fe80::1"));
        assert_eq!((&j["master_heard"], &j["master_heard_priority"]), (&json!("fe80::2"), &json!(110)));
        assert_eq!(j["master_heard_ago_s"], json!(0.03));
        assert_eq!((&j["adverts_sent"], &j["adverts_received"]), (&json!(0), &json!(12)));
        assert_eq!(j["dropped"], json!({"ttl": 2}));
        // IPv4 only: no line, null.
        let v4 = live("eth0", &info(State::Master, 110));
        assert_eq!((line(&v4), member_json(&v4)["ipv6"].clone()), (None, Value::Null));
    }
}
