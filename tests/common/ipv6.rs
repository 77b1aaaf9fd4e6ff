//! IPv6 on the lab: global (2001:db8:a::/64 on LAN A, 2001:db8:b::/64 on LAN B) and link-local addresses
//! on hosts and clients without DAD, and what the tests read of them (addresses, flags, neighbours, ping).

use super::*;

pub const V6_PREFIX: [&str; 2] = ["2001:db8:a", "2001:db8:b"];
pub const VIP6_A: &str = "2001:db8:a::200";
pub const VIP6_B: &str = "2001:db8:b::200";
pub const CLIENT6_A: &str = "2001:db8:a::100";

/// The IPv6 address of host `n` on LAN `lan`.
pub fn host_ip6(n: usize, lan: usize) -> String {
    format!("{}::{n}", V6_PREFIX[lan])
}

/// DAD off (a lab has no duplicates, and a tentative link-local address cannot send), then a /64
/// global address on every host leg and client, and waits until no address is tentative.
pub fn add_ipv6(lab: &Lab) {
    let mut all: Vec<(String, usize, String, String)> = Vec::new();
    for n in 1..=lab.hosts.len() {
        for l in 0..lab.lans {
            all.push((lab.h(n).to_string(), l, format!("eth{l}"), host_ip6(n, l)));
        }
    }
    for (l, prefix) in V6_PREFIX.iter().enumerate().take(lab.lans) {
        all.push((lab.client(l).to_string(), l, "eth0".into(), format!("{prefix}::100")));
    }
    for (ns, _, ifname, ip) in &all {
        exec(ns, &format!("sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.{ifname}.accept_dad=0"));
        exec(ns, &format!("ip -6 addr add {ip}/64 dev {ifname} nodad"));
    }
    wait_until(Duration::from_secs(10), "IPv6 addresses usable (link-local generated, none tentative)", || {
        all.iter().all(|(ns, _, ifname, _)| {
            let a = exec_args(ns, &["ip", "-6", "-o", "addr", "show", "dev", ifname]);
            a.contains("fe80::") && !a.contains("tentative")
        })
    });
}

/// `ip -6 -o addr show dev IFNAME` lines.
pub fn ipv6_lines(ns: &str, ifname: &str) -> Vec<String> {
    exec_args(ns, &["ip", "-6", "-o", "addr", "show", "dev", ifname]).lines().map(str::to_string).collect()
}

/// The line of address `ip` on `ifname`, if present.
pub fn ipv6_line(ns: &str, ifname: &str, ip: &str) -> Option<String> {
    let want = format!(" {ip}/");
    ipv6_lines(ns, ifname).into_iter().find(|l| l.contains(&want))
}

pub fn has_ip6(ns: &str, ifname: &str, ip: &str) -> bool {
    ipv6_line(ns, ifname, ip).is_some()
}

/// The link-local address of `ifname`.
pub fn link_local(ns: &str, ifname: &str) -> String {
    ipv6_lines(ns, ifname)
        .iter()
        .find_map(|l| l.split_whitespace().skip_while(|w| *w != "inet6").nth(1).filter(|a| a.starts_with("fe80:")))
        .and_then(|a| a.split('/').next().map(str::to_string))
        .unwrap_or_else(|| panic!("{ns} {ifname}: no link-local address"))
}

/// The MAC of an IPv6 neighbour entry (`None` when absent, INCOMPLETE or FAILED).
pub fn neigh6_mac(ns: &str, ip: &str) -> Option<String> {
    let out = exec_args(ns, &["ip", "-6", "neigh", "show", ip]);
    out.lines().find_map(|line| {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.first() != Some(&ip) {
            return None;
        }
        w.iter().position(|x| *x == "lladdr").and_then(|i| w.get(i + 1)).map(|m| m.to_lowercase())
    })
}

/// One ICMPv6 echo from `ns` to `ip` answered within a second (no `ping` in the lab: Python's raw
/// ICMPv6 socket, the kernel computes the checksum).
pub fn ping6(ns: &str, ip: &str) -> bool {
    let script = format!(
        "import socket,sys\n\
         s=socket.socket(socket.AF_INET6,socket.SOCK_RAW,socket.IPPROTO_ICMPV6)\n\
         s.settimeout(1.0)\n\
         s.sendto(bytes([128,0,0,0,0x12,0x34,0,1])+b'vrrpd',('{ip}',0))\n\
         try:\n\
         \x20   while True:\n\
         \x20       d,a=s.recvfrom(1500)\n\
         \x20       if d[0]==129 and d[4:6]==bytes([0x12,0x34]) and a[0]=='{ip}': sys.exit(0)\n\
         except socket.timeout:\n\
         \x20   sys.exit(1)\n"
    );
    try_exec_args(ns, &["python3", "-c", &script]).status.success()
}

/// Pings until one answer comes back (the first may wait for neighbour discovery).
pub fn ping6_ok(lab: &Lab, ns: &str, ip: &str, what: &str) {
    lab.wait_until(Duration::from_secs(10), what, || ping6(ns, ip));
}

/// `tcpdump -vv -n -e` of the IPv6 VRRP adverts (and, with `nd`, the Neighbor Advertisements) in the
/// client of LAN `lan`, once it listens.
pub fn tcpdump6(lab: &Lab, lan: usize, nd: bool) -> Capture {
    let mut argv =
        vec!["tcpdump", "-i", "eth0", "-vv", "-n", "-e", "-l", "-U", "ip6", "and", "(", "ip6", "proto", "112"];
    if nd {
        argv.extend(["or", "icmp6"]);
    }
    argv.push(")");
    let p = lab.spawn_split(lab.client(lan), &argv, "tcpdump6");
    wait_until(Duration::from_secs(10), "tcpdump to listen", || {
        assert!(p.is_running(), "tcpdump exited: {}", p.err_text());
        p.err_text().contains("listening on")
    });
    Capture { proc: p }
}
