//! Multicast-less LANs for the unicast-peer tests: an nftables bridge rule in the switch namespace that
//! drops VRRP multicast, its counter, and the `--peer` arguments of the lab's hosts.

use super::json::{Json, parse_json};
use super::*;

/// The nftables table the rule lives in (inside the lab's own switch namespace only).
const TABLE: &str = "ucnovrrp";

/// Makes every LAN of the lab drop what VRRP sends to its multicast group (224.0.0.18, protocol 112),
/// as a filtering hypervisor or switch does; unicast VRRP still passes. Panics when nft fails.
pub fn drop_vrrp_multicast(lab: &Lab) {
    let sw = &lab.switch;
    exec_args(sw, &["nft", "add", "table", "bridge", TABLE]);
    // `fwd` is an nft keyword: the chain has another name.
    exec_args(
        sw,
        &["nft", "add", "chain", "bridge", TABLE, "novrrp", "{ type filter hook forward priority 0; policy accept; }"],
    );
    exec_args(
        sw,
        &[
            "nft",
            "add",
            "rule",
            "bridge",
            TABLE,
            "novrrp",
            "ip",
            "daddr",
            "224.0.0.18",
            "ip",
            "protocol",
            "112",
            "counter",
            "drop",
        ],
    );
}

/// Adds to [`drop_vrrp_multicast`]'s chain a rule dropping IPv6 VRRP multicast (ff02::12, next header
/// 112); [`multicast6_dropped`] reads its counter.
pub fn drop_vrrp6_multicast(lab: &Lab) {
    let rule = ["ip6", "daddr", "ff02::12", "ip6", "nexthdr", "112", "counter", "drop"];
    let mut argv = vec!["nft", "add", "rule", "bridge", TABLE, "novrrp"];
    argv.extend(rule);
    exec_args(&lab.switch, &argv);
}

/// How many IPv6 frames the rule of [`drop_vrrp6_multicast`] dropped so far.
pub fn multicast6_dropped(lab: &Lab) -> u64 {
    let out = exec_args(&lab.switch, &["nft", "list", "chain", "bridge", TABLE, "novrrp"]);
    let line = out.lines().find(|l| l.contains("ff02::12")).unwrap_or_else(|| panic!("no IPv6 rule:\n{out}"));
    packets(line, &out)
}

/// The first "counter packets N" of `text` ("... counter packets 12 bytes 480 drop"; `out`: the chain).
fn packets(text: &str, out: &str) -> u64 {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "packets")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or_else(|| panic!("no counter in the switch's rule:\n{out}"))
}

/// How many frames the rule of [`drop_vrrp_multicast`] dropped so far.
pub fn multicast_dropped(lab: &Lab) -> u64 {
    let out = exec_args(&lab.switch, &["nft", "list", "chain", "bridge", TABLE, "novrrp"]);
    packets(&out, &out)
}

/// Adds to [`drop_vrrp_multicast`]'s chain a counter of the priority-0 adverts (VRRP byte 2) sent
/// from `src` (IPv4 or IPv6); [`resignations_from`] reads it.
pub fn count_resignations_from(lab: &Lab, src: &str) {
    let (family, proto) = if src.contains(':') { ("ip6", "nexthdr") } else { ("ip", "protocol") };
    let rule = [family, "saddr", src, family, proto, "112", "@th,16,8", "0", "counter"];
    let mut argv = vec!["nft", "add", "rule", "bridge", TABLE, "novrrp"];
    argv.extend(rule);
    exec_args(&lab.switch, &argv);
}

/// How many priority-0 adverts from `src` the LANs carried since [`count_resignations_from`].
pub fn resignations_from(lab: &Lab, src: &str) -> u64 {
    let out = exec_args(&lab.switch, &["nft", "list", "chain", "bridge", TABLE, "novrrp"]);
    let line = out.lines().find(|l| l.contains(&format!("saddr {src} "))).unwrap_or_else(|| panic!("no rule:\n{out}"));
    packets(line, &out)
}

/// `--peer` of host `n` on LAN `lan`: the address of every other host in `hosts` on that LAN.
pub fn peer_args(n: usize, lan: usize, hosts: &[usize]) -> String {
    hosts.iter().filter(|&&h| h != n).map(|&h| format!("--peer {} ", host_ip(h, lan))).collect()
}

/// The only member of `atropos --state --json` on host `n` for interface `ifname`.
pub fn member_json(lab: &Lab, n: usize, ifname: &str) -> Json {
    let (_, out) = atropos_run(&lab.host(n).rundir, &["--state", "--json"]);
    let j = parse_json(out.trim());
    let found: Vec<Json> =
        j.get("members").arr().iter().filter(|m| m.get("interface").str() == ifname).cloned().collect();
    assert_eq!(found.len(), 1, "host {n}: one member on {ifname} expected in atropos --json:\n{out}");
    found[0].clone()
}

/// Drop count of `kind` for host `n`'s member on `ifname` (0 when absent).
pub fn dropped(lab: &Lab, n: usize, ifname: &str, kind: &str) -> u64 {
    match member_json(lab, n, ifname).get("dropped") {
        Json::Obj(v) => v.iter().find(|(k, _)| k == kind).map(|(_, c)| c.num() as u64).unwrap_or(0),
        other => panic!("host {n}: \"dropped\" is not an object: {other:?}"),
    }
}

/// The `peers` of host `n`'s member on `ifname` in `atropos --json`: (address, seconds since heard).
pub fn peers_seen(lab: &Lab, n: usize, ifname: &str) -> Vec<(String, Option<f64>)> {
    member_json(lab, n, ifname)
        .get("peers")
        .arr()
        .iter()
        .map(|p| {
            let ago = p.get("heard_ago_s");
            (p.get("address").str().to_string(), if ago.is_null() { None } else { Some(ago.num()) })
        })
        .collect()
}
