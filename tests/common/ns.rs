//! Commands run inside a lab namespace and the queries built on them (links, addresses, routes,
//! neighbours, the state file).
use super::*;

pub(crate) fn cmd_line(ns: &str, args: &[&str]) -> String {
    format!("ip netns exec {ns} {}", args.join(" "))
}

/// Runs a command inside a namespace and returns its raw output (no check).
pub fn try_exec_args(ns: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: cannot run: {e}", cmd_line(ns, args)))
}

/// Runs a command inside a namespace, panics unless it succeeds, returns its stdout.
pub fn exec_args(ns: &str, args: &[&str]) -> String {
    let out = try_exec_args(ns, args);
    if !out.status.success() {
        panic!(
            "{} failed ({}): {}{}",
            cmd_line(ns, args),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `exec(ns, "ip route show dev eth0")`: the command is split on whitespace.
pub fn exec(ns: &str, cmd: &str) -> String {
    exec_args(ns, &cmd.split_whitespace().collect::<Vec<_>>())
}

/// Like [`exec`], without the check.
pub fn try_exec(ns: &str, cmd: &str) -> Output {
    try_exec_args(ns, &cmd.split_whitespace().collect::<Vec<_>>())
}

/// Runs `ip ARGS` in the test's own namespace (only used for `ip netns …`).
pub(crate) fn ip(args: &[&str]) -> Output {
    Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("ip {}: cannot run: {e}", args.join(" ")))
}

pub(crate) fn ip_ok(args: &[&str]) {
    let out = ip(args);
    if !out.status.success() {
        panic!("ip {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

/// The MAC address of an interface, lower case (`ip -o link`).
pub fn mac(ns: &str, ifname: &str) -> String {
    let out = exec_args(ns, &["ip", "-o", "link", "show", "dev", ifname]);
    let mut words = out.split_whitespace();
    while let Some(w) = words.next() {
        if w.starts_with("link/")
            && let Some(m) = words.next()
        {
            return m.to_lowercase();
        }
    }
    panic!("no link address for {ifname} in {ns}: {out}")
}

/// True when the interface is administratively up (`UP` among its flags).
pub fn link_is_up(ns: &str, ifname: &str) -> bool {
    let out = exec_args(ns, &["ip", "-o", "link", "show", "dev", ifname]);
    out.split_once('<')
        .and_then(|(_, r)| r.split_once('>'))
        .is_some_and(|(flags, _)| flags.split(',').any(|f| f == "UP"))
}

/// One IPv4 address of an interface, as `ip -o -4 addr` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addr {
    /// `a.b.c.d/len`
    pub cidr: String,
    pub ip: String,
    pub label: String,
    pub secondary: bool,
}

/// IPv4 addresses of an interface in kernel order.
pub fn ipv4_addrs_full(ns: &str, ifname: &str) -> Vec<Addr> {
    let out = exec_args(ns, &["ip", "-o", "-4", "addr", "show", "dev", ifname]);
    let mut v = Vec::new();
    for line in out.lines() {
        // "2: eth0    inet 192.0.2.200/32 scope global secondary eth0:v51\       valid_lft …"
        let line = line.split('\\').next().unwrap_or("");
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = words.iter().position(|w| *w == "inet") else {
            continue;
        };
        let Some(cidr) = words.get(i + 1) else { continue };
        let label = words.last().copied().unwrap_or("").to_string();
        v.push(Addr {
            cidr: cidr.to_string(),
            ip: cidr.split('/').next().unwrap_or("").to_string(),
            label,
            secondary: words.contains(&"secondary"),
        });
    }
    v
}

/// IPv4 addresses of an interface as `a.b.c.d/len`.
pub fn ipv4_addrs(ns: &str, ifname: &str) -> Vec<String> {
    ipv4_addrs_full(ns, ifname).into_iter().map(|a| a.cidr).collect()
}

/// True when the interface holds this IPv4 address (any prefix length).
pub fn has_ip(ns: &str, ifname: &str, ip: &str) -> bool {
    ipv4_addrs_full(ns, ifname).iter().any(|a| a.ip == ip)
}

/// The routes of an interface in the main table, sorted (`ip route show dev X`).
pub fn routes(ns: &str, ifname: &str) -> Vec<String> {
    sorted_lines(&exec_args(ns, &["ip", "-4", "route", "show", "dev", ifname]))
}

/// The routes of an interface in every table, sorted (`ip route show table all dev X`).
pub fn routes_all(ns: &str, ifname: &str) -> Vec<String> {
    sorted_lines(&exec_args(ns, &["ip", "-4", "route", "show", "table", "all", "dev", ifname]))
}

pub(crate) fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
    v.sort();
    v
}

/// The link-layer address of a neighbour entry (`None` when absent, INCOMPLETE or FAILED).
pub fn neigh_mac(ns: &str, ip: &str) -> Option<String> {
    let out = exec_args(ns, &["ip", "-4", "neigh", "show", ip]);
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() != Some(&ip) {
            continue;
        }
        if let Some(i) = words.iter().position(|w| *w == "lladdr") {
            return words.get(i + 1).map(|m| m.to_lowercase());
        }
    }
    None
}

/// True when `ifname` holds `vip` and carries the virtual MAC of `vrid`: a VRRP master with a vMAC.
pub fn owns_with_vmac(ns: &str, ifname: &str, vip: &str, vrid: u8) -> bool {
    has_ip(ns, ifname, vip) && mac(ns, ifname) == vmac(vrid)
}

/// True when `ifname` does not hold `vip` and carries `own_mac`: a backup, or a stopped router.
pub fn released(ns: &str, ifname: &str, vip: &str, own_mac: &str) -> bool {
    !has_ip(ns, ifname, vip) && mac(ns, ifname) == own_mac
}

/// Makes the namespace send one UDP datagram to `ip` (port 9, discard), which makes the kernel
/// resolve (or re-validate) the neighbour entry. `ping` is not installed everywhere; bash is.
pub fn poke(ns: &str, ip: &str) {
    let _ = try_exec_args(ns, &["bash", "-c", &format!("echo x > /dev/udp/{ip}/9")]);
}

/// The text of `path` when it is (or links to) a regular file: never opens a FIFO a test planted,
/// which would block.
pub fn read_regular(path: &Path) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    fs::read_to_string(path).ok()
}

/// Parses a vrrpd shared state file: one line per member, tab-separated `key=value` fields.
pub fn read_state_file(path: &Path) -> Vec<BTreeMap<String, String>> {
    let Some(text) = read_regular(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split('\t')
                .filter_map(|f| f.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect()
        })
        .collect()
}

pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
