//! Many-LAN labs: LANs 2.. (one bridge each, one veth leg per host) added to a two-LAN lab, for `-M N` hosts.
//!
//! LAN A and B keep the lab's own addresses, clients and MACs. LAN `l` ≥ 2 has no client namespace:
//! bridge `br<l>` in the switch, `eth<l>` in every host (MAC 02:00:01:00:<l>:<n>), addresses in the
//! benchmarking range 198.18.0.0/15 (RFC 2544): host `n` is 198.18.<l>.<n>/24, the VIP is .200.
//! Everything lives in the lab's namespaces, so the lab's drop removes it.

use super::*;

/// Most LANs a lab can get (the VRIDs of the many-LAN benchmark are 51 + l and stay ≤ 255).
pub const MAX_LANS: usize = 200;

/// `a.b.c` of LAN `l`.
pub fn lan_prefix(l: usize) -> String {
    match l {
        0 | 1 => LAN_PREFIX[l].to_string(),
        _ => format!("198.18.{l}"),
    }
}

/// The address of host `n` on LAN `l`, without prefix.
pub fn lan_host_ip(n: usize, l: usize) -> String {
    format!("{}.{n}", lan_prefix(l))
}

/// The VIP of LAN `l` (`.200`, as VIP_A and VIP_B).
pub fn lan_vip(l: usize) -> String {
    format!("{}.200", lan_prefix(l))
}

/// Adds LANs 2..`lans` to a lab built with two LANs: one `ip -batch` per namespace.
pub fn add_lans(lab: &Lab, lans: usize) {
    assert!(lab.lans == 2 && (2..=MAX_LANS).contains(&lans), "a two-LAN lab, 2..={MAX_LANS} LANs");
    let sw = &lab.switch;
    let mut sw_batch = String::new();
    for l in 2..lans {
        sw_batch.push_str(&format!("link add br{l} type bridge stp_state 0 forward_delay 0 mcast_snooping 0\n"));
        sw_batch.push_str(&format!("link set br{l} up\n"));
    }
    batch(lab, sw, "switch-bridges", &sw_batch);
    let mut legs = String::new();
    for h in &lab.hosts {
        let mut b = String::new();
        for l in 2..lans {
            b.push_str(&format!(
                "link add eth{l} address 02:00:01:00:{l:02x}:{:02x} type veth peer name h{}e{l} netns {sw}\n",
                h.n, h.n
            ));
            b.push_str(&format!("addr add {}/24 dev eth{l}\n", lan_host_ip(h.n, l)));
            b.push_str(&format!("link set eth{l} up\n"));
            legs.push_str(&format!("link set h{}e{l} master br{l} up\n", h.n));
        }
        batch(lab, &h.ns, &format!("h{}-legs", h.n), &b);
    }
    batch(lab, sw, "switch-legs", &legs);
}

fn batch(lab: &Lab, ns: &str, name: &str, text: &str) {
    if text.is_empty() {
        return;
    }
    let path = lab.dir.join(format!("batch-{name}.ip"));
    fs::write(&path, text).expect("batch file");
    exec_args(ns, &["ip", "-batch", &path.to_string_lossy()]);
}

/// The VIPs (by LAN index) that a namespace holds on their own LAN's interface, from one `ip -4 -o addr`.
pub fn vips_held_many(ns: &str, lans: usize) -> Vec<bool> {
    let mut held = vec![false; lans];
    let out = try_exec_args(ns, &["ip", "-4", "-o", "addr", "show"]);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let (Some(ifname), Some(cidr)) = (w.get(1), w.get(3)) else { continue };
        let Some(l) = ifname.strip_prefix("eth").and_then(|x| x.parse::<usize>().ok()) else { continue };
        if l < lans && cidr.split('/').next() == Some(lan_vip(l).as_str()) {
            held[l] = true;
        }
    }
    held
}
