//! Command line of vrrpd, compatible with Advanced Vrrpd:
//! `vrrpd -i ifname -v vrid [-s] [-a auth] [-p prio] [-d delay] [-n] [-f rundir] [-U script] [-D script]
//!  [-M n] [-z prio] [-x prio] [-F] [-h] [-V] ipaddr[/len]...` — addresses may stand anywhere.
//! Pure: parsing and range checks only; checks against the system are in `main.rs`.

use crate::packet::{Auth, MAX_ADDRS};
use crate::profile::{Interval, Version};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// `--track-*` and `--preempt-delay`.
mod track;
/// `--peer` and `--src`.
mod unicast;
/// IPv6 virtual addresses.
pub mod v6;
pub use v6::Vip6;

pub const DEFAULT_RUNDIR: &str = "/run/vrrpd";
pub const DEFAULT_PRIORITY: u8 = 100;
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);
/// Members of one host group; far above any real firewall, low enough to catch a typo.
pub const MAX_MEMBERS: u32 = 1024;

/// A virtual address with its prefix length (32 unless given).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vip {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl fmt::Display for Vip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub ifname: String,
    pub vrid: u8,
    pub priority: u8,
    /// `--vrrp-version`: 2 (RFC 3768, the default) or 3 (RFC 5798).
    pub version: Version,
    /// `-d`: whole seconds with VRRPv2, centiseconds with VRRPv3.
    pub adver_int: Interval,
    pub preempt: bool,
    pub auth: Auth,
    /// `-n`: leave the interface's MAC alone.
    pub no_vmac: bool,
    pub rundir: PathBuf,
    pub up_script: Option<PathBuf>,
    pub down_script: Option<PathBuf>,
    /// `-M n`: this host runs n vrrpd processes that flip together.
    pub members: Option<u32>,
    /// `-z prio`: priority set by a "reduce" request (instead of −10).
    pub reduce_to: Option<u8>,
    /// `-x prio`: priority set by an "increase" request (instead of +10).
    pub increase_to: Option<u8>,
    pub foreground: bool,
    pub hook_timeout: Duration,
    /// Sorted, without duplicates.
    pub vips: Vec<Vip>,
    /// IPv6 virtual addresses (VRRPv3), link-local first: the IPv6 router's list.
    pub vips6: Vec<Vip6>,
    /// `--strict-interval`: drop adverts whose interval differs from ours (RFC 3768 §7.1 to the letter).
    pub strict_interval: bool,
    /// `-I VIP -O GATEWAY`: on becoming MASTER, a datagram from VIP to GATEWAY port 1100 (1.15's magic packet).
    pub magic: Option<Magic>,
    /// `--peer ADDR...`: unicast adverts to these routers only, accepted from them only (empty: multicast).
    pub peers: Vec<Ipv4Addr>,
    /// `--src ADDR`: the source of unicast adverts (default: the interface's primary address).
    pub src: Option<Ipv4Addr>,
    /// The IPv6 router's `--peer`s and `--src` (default: our link-local address).
    pub peers6: Vec<std::net::Ipv6Addr>,
    pub src6: Option<std::net::Ipv6Addr>,
    /// Warnings about the command line, logged at start (e.g. a password cut to 8 bytes).
    pub warnings: Vec<String>,
    /// `--host-up` / `--host-down`: run once per transition of the whole host, by one member of the group.
    pub host_up_script: Option<PathBuf>,
    pub host_down_script: Option<PathBuf>,
    /// `--track-*`: processes, check scripts and interfaces the host's health depends on.
    pub track: crate::track::Spec,
    /// `--preempt-delay`: after a start or a cleared fault, follow a lower-priority master this long.
    pub preempt_delay: Duration,
}

/// 1.15's "magic packet": makes switches and the gateway see the VIP behind this host without a virtual MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Magic {
    pub from: Ipv4Addr,
    pub to: Ipv4Addr,
}

/// UDP port of the magic packet (Advanced Vrrpd 1.15).
pub const MAGIC_PORT: u16 = 1100;

impl Config {
    pub fn vmac(&self) -> [u8; 6] {
        [0x00, 0x00, 0x5e, 0x00, 0x01, self.vrid]
    }
    pub fn vip_addrs(&self) -> Vec<Ipv4Addr> {
        self.vips.iter().map(|v| v.addr).collect()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Version,
    Run(Box<Config>),
}

/// The process's arguments as text: a non-UTF-8 argument is a usage error (no option or name needs one).
pub fn args_utf8(args: impl Iterator<Item = std::ffi::OsString>) -> Result<Vec<String>, UsageError> {
    args.enumerate()
        .map(|(i, a)| {
            a.into_string()
                .map_err(|a| UsageError(format!("argument {} ({}) is not valid UTF-8", i + 1, a.to_string_lossy())))
        })
        .collect()
}

/// A usage error: one line naming the option and the value; the process exits with status 2.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    o.optopt("i", "", "interface to run on (required)", "IFNAME");
    o.optopt("v", "", "virtual router id, 1-255 (required)", "VRID");
    o.optflag("s", "", "turn preemption off (on by default)");
    o.optopt("a", "", "authentication: none (default) or pw/SECRET (8 bytes are used)", "AUTH");
    o.optopt("p", "", "priority, 1-255 (default 100; 255 = address owner)", "PRIO");
    o.optopt("d", "", "advertisement interval in seconds: 1-255 with v2, 0.01-40.95 with v3 (default 1)", "DELAY");
    o.optflag("n", "", "do not set the virtual MAC on the interface");
    o.optopt("f", "", "run directory (default /run/vrrpd)", "RUNDIR");
    o.optopt("U", "", "script run on becoming MASTER", "SCRIPT");
    o.optopt("D", "", "script run on becoming BACKUP", "SCRIPT");
    o.optopt("M", "", "this host runs N vrrpd processes that are MASTER together or not at all", "N");
    o.optopt("z", "", "priority set by a reduce request (default: -10)", "PRIO");
    o.optopt("x", "", "priority set by an increase request (default: +10)", "PRIO");
    o.optflag("F", "", "stay in the foreground and log to stderr");
    o.optopt("", "hook-timeout", "seconds before a hook script is killed (default 30)", "SECS");
    o.optmulti("", "peer", "unicast adverts to this router instead of multicast (repeatable)", "ADDR");
    o.optmulti(
        "",
        "src",
        "source address of unicast adverts, one per family (default: the interface's primary IPv4 address, its \
         IPv6 link-local address)",
        "ADDR",
    );
    o.optopt("", "vrrp-version", "VRRP version: 2 (RFC 3768, default) or 3 (RFC 5798)", "2|3");
    o.optflag("", "strict-interval", "drop adverts whose interval differs from ours (RFC 3768 to the letter)");
    o.optopt("I", "", "magic packet: on becoming MASTER, send a datagram from this VIP to -O, port 1100", "VIP");
    o.optopt("O", "", "magic packet destination (the gateway)", "GATEWAY");
    o.optopt("", "host-up", "script run once when the whole host (every -M member) has become MASTER", "SCRIPT");
    o.optopt("", "host-down", "script run once when the whole host has left MASTER", "SCRIPT");
    track::options(&mut o);
    o.optflag("h", "help", "print this help and exit");
    o.optflag("V", "version", "print the version and exit");
    o
}

pub fn usage() -> String {
    let brief = "Usage: vrrpd -i IFNAME -v VRID [-s] [-a AUTH] [-p PRIO] [-d DELAY] [-n] [-f RUNDIR]\n             \
                 [-U SCRIPT] [-D SCRIPT] [-M N] [-z PRIO] [-x PRIO] [-F] [--hook-timeout SECS]\n             \
                 [--vrrp-version 2|3] [--strict-interval] [--peer ADDR]... [--src ADDR] [-I VIP -O GATEWAY] [-h] [-V]\n             \
                 [--host-up SCRIPT] [--host-down SCRIPT] [--track-process NAME]... [--track-script CMD]...\n             \
                 [--track-interval SECS] [--track-timeout SECS] [--track-fall N] [--track-rise N]\n             \
                 [--track-interface IFNAME]... [--preempt-delay SECS] IPADDR[/LEN] [IPADDR[/LEN]...]\n\n\
                 VRRPv2 (RFC 3768) or VRRPv3 (RFC 5798) router for one interface; the virtual addresses may stand anywhere.\n\
                 Example: vrrpd -i eth0 -v 51 -M 2 -U /etc/vrrpd/Master.sh -D /etc/vrrpd/Backup.sh 10.16.1.200";
    options().usage(brief)
}

fn num<T: std::str::FromStr + PartialOrd + fmt::Display + Copy>(
    m: &getopts::Matches,
    opt: &str,
    what: &str,
    lo: T,
    hi: T,
) -> Result<Option<T>, UsageError> {
    match m.opt_str(opt) {
        None => Ok(None),
        Some(s) => match s.parse::<T>() {
            Ok(v) if v >= lo && v <= hi => Ok(Some(v)),
            _ => {
                let dash = if opt.len() > 1 { "--" } else { "-" };
                Err(UsageError(format!("{dash}{opt} {s}: {what} must be a number from {lo} to {hi}")))
            }
        },
    }
}

pub fn parse_vip(s: &str) -> Result<Vip, UsageError> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: Ipv4Addr =
        a.parse().map_err(|_| UsageError(format!("{s}: not an IPv4 address (expected a.b.c.d or a.b.c.d/len)")))?;
    let prefix = match len {
        None => 32,
        Some(l) => match l.parse::<u8>() {
            Ok(p) if (1..=32).contains(&p) => p,
            _ => return Err(UsageError(format!("{s}: prefix length must be a number from 1 to 32"))),
        },
    };
    if addr.is_unspecified()
        || addr.is_broadcast()
        || addr.is_multicast()
        || addr.is_loopback()
        || addr.octets()[0] >= 240
    {
        return Err(UsageError(format!("{s}: a virtual address must be a unicast address")));
    }
    Ok(Vip { addr, prefix })
}

/// Parses `-a`; a password over 8 bytes is cut to 8 (as keepalived and 1.15 do) with a warning.
fn parse_auth(s: &str, warnings: &mut Vec<String>) -> Result<Auth, UsageError> {
    if s == "none" {
        return Ok(Auth::None);
    }
    if let Some(secret) = s.strip_prefix("pw/").or_else(|| s.strip_prefix("pass/")) {
        let b = secret.as_bytes();
        if b.len() > 8 {
            warnings.push(format!(
                "-a: the password is {} bytes; VRRPv2 carries 8: only the first 8 are used \
                 (as keepalived and Advanced Vrrpd 1.15 do)",
                b.len()
            ));
        }
        return Auth::password(&b[..b.len().min(8)])
            .ok_or_else(|| UsageError(format!("-a {s}: the password must not be empty")));
    }
    if s.starts_with("ah/") {
        return Err(UsageError(format!(
            "-a {s}: IPsec AH authentication is not supported (RFC 3768 removed it); use none or pw/SECRET"
        )));
    }
    Err(UsageError(format!("-a {s}: authentication must be none or pw/SECRET")))
}

fn parse_version(s: Option<&str>) -> Result<Version, UsageError> {
    match s {
        None | Some("2") => Ok(Version::V2),
        Some("3") => Ok(Version::V3),
        Some(s) => Err(UsageError(format!("--vrrp-version {s}: the VRRP version must be 2 or 3"))),
    }
}

/// `-d`: whole seconds from 1 to 255 with v2 (its field), 0.01 to 40.95 s with v3 (12 bits of centiseconds).
fn parse_interval(s: Option<&str>, version: Version) -> Result<Interval, UsageError> {
    let Some(s) = s else { return Ok(Interval::default()) };
    let parsed = Interval::parse_secs(s);
    match version {
        Version::V2 => match parsed {
            Some(i) if i.whole_secs().is_some() => Ok(i),
            Some(i) if i.centis() % 100 != 0 && i.centis() < 25_600 => Err(UsageError(format!(
                "-d {s}: VRRPv2 carries whole seconds; a fraction of a second needs --vrrp-version 3"
            ))),
            _ => {
                Err(UsageError(format!("-d {s}: the advertisement interval must be a number of seconds from 1 to 255")))
            }
        },
        Version::V3 => match parsed {
            Some(i) if (1..=crate::packet::MAX_V3_CENTIS).contains(&i.centis()) => Ok(i),
            _ => Err(UsageError(format!(
                "-d {s}: with VRRPv3 the advertisement interval must be from 0.01 to 40.95 seconds (centiseconds)"
            ))),
        },
    }
}

fn parse_ifname(opt: &str, s: &str) -> Result<String, UsageError> {
    if s.is_empty() || s.len() > 15 || s.contains(['/', ':']) || s.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(UsageError(format!(
            "{opt} {s:?}: not a valid interface name (1 to 15 characters, no '/', ':' or space)"
        )));
    }
    Ok(s.to_string())
}

pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Command, UsageError> {
    let args: Vec<&str> = args.iter().map(|s| s.as_ref()).collect();
    let m = options().parse(&args).map_err(|e| UsageError(format!("{e} (see vrrpd -h)")))?;
    if m.opt_present("h") {
        return Ok(Command::Help);
    }
    if m.opt_present("V") {
        return Ok(Command::Version);
    }
    let ifname = parse_ifname("-i", &m.opt_str("i").ok_or_else(|| UsageError("-i IFNAME is required".into()))?)?;
    let vrid =
        num::<u8>(&m, "v", "the virtual router id", 1, 255)?.ok_or_else(|| UsageError("-v VRID is required".into()))?;
    let priority = num::<u8>(&m, "p", "the priority", 1, 255)?.unwrap_or(DEFAULT_PRIORITY);
    let version = parse_version(m.opt_str("vrrp-version").as_deref())?;
    let adver_int = parse_interval(m.opt_str("d").as_deref(), version)?;
    let members = num::<u32>(&m, "M", "the number of vrrpd processes of this host", 1, MAX_MEMBERS)?;
    let reduce_to = num::<u8>(&m, "z", "the reduced priority", 1, 254)?;
    let increase_to = num::<u8>(&m, "x", "the increased priority", 1, 254)?;
    let hook_timeout = num::<u32>(&m, "hook-timeout", "the hook timeout in seconds", 1, 86_400)?
        .map(|s| Duration::from_secs(u64::from(s)))
        .unwrap_or(DEFAULT_HOOK_TIMEOUT);
    let mut warnings = Vec::new();
    let auth = match m.opt_str("a") {
        Some(a) if version == Version::V3 => {
            return Err(UsageError(format!(
                "-a {a}: VRRPv3 has no authentication (RFC 5798 removed it); drop -a or use --vrrp-version 2"
            )));
        }
        Some(a) => parse_auth(&a, &mut warnings)?,
        None => Auth::None,
    };
    let path = |o: &str| -> Result<Option<PathBuf>, UsageError> {
        match m.opt_str(o) {
            Some(p) if p.is_empty() => Err(UsageError(format!("-{o}: empty path"))),
            Some(p) if !p.starts_with('/') => Err(UsageError(format!("-{o} {p}: give an absolute path"))),
            other => Ok(other.map(PathBuf::from)),
        }
    };
    let up_script = path("U")?;
    let down_script = path("D")?;
    let rundir = path("f")?.unwrap_or_else(|| PathBuf::from(DEFAULT_RUNDIR));
    let host_up_script = long_path(&m, "host-up")?;
    let host_down_script = long_path(&m, "host-down")?;

    let mut vips = Vec::new();
    let mut vips6: Vec<Vip6> = Vec::new();
    for s in &m.free {
        if v6::looks_v6(s) {
            let v = v6::parse_vip6(s)?;
            if vips6.iter().any(|x| x.addr == v.addr) {
                return Err(UsageError(format!("{s}: virtual address given twice")));
            }
            vips6.push(v);
            continue;
        }
        let v = parse_vip(s)?;
        if vips.iter().any(|x: &Vip| x.addr == v.addr) {
            return Err(UsageError(format!("{s}: virtual address given twice")));
        }
        vips.push(v);
    }
    let vips6 = v6::finish(vips6, version, MAX_ADDRS)?;
    if vips.is_empty() && vips6.is_empty() {
        return Err(UsageError("at least one virtual address is required (e.g. 10.16.1.200)".into()));
    }
    if vips.len() > MAX_ADDRS {
        return Err(UsageError(format!("{} virtual addresses: at most {MAX_ADDRS} fit in an advert", vips.len())));
    }
    vips.sort();
    let magic = parse_magic(&m, &vips)?;
    let unicast::Unicast { peers, src, peers6, src6 } = unicast::parse(&m, &vips, &vips6)?;
    let (track, preempt_delay) = track::parse(&m, &ifname)?;

    Ok(Command::Run(Box::new(Config {
        ifname,
        vrid,
        priority,
        version,
        adver_int,
        preempt: !m.opt_present("s"),
        auth,
        no_vmac: m.opt_present("n"),
        rundir,
        up_script,
        down_script,
        members,
        reduce_to,
        increase_to,
        foreground: m.opt_present("F"),
        hook_timeout,
        vips,
        vips6,
        strict_interval: m.opt_present("strict-interval"),
        magic,
        peers,
        src,
        peers6,
        src6,
        warnings,
        host_up_script,
        host_down_script,
        track,
        preempt_delay,
    })))
}

/// A script given to a long option: an absolute path.
fn long_path(m: &getopts::Matches, o: &str) -> Result<Option<PathBuf>, UsageError> {
    match m.opt_str(o) {
        Some(p) if p.is_empty() => Err(UsageError(format!("--{o}: empty path"))),
        Some(p) if !p.starts_with('/') => Err(UsageError(format!("--{o} {p}: give an absolute path"))),
        other => Ok(other.map(PathBuf::from)),
    }
}

/// `-I VIP -O GATEWAY`: both or neither; the source is one of our virtual addresses.
fn parse_magic(m: &getopts::Matches, vips: &[Vip]) -> Result<Option<Magic>, UsageError> {
    let (from, to) = match (m.opt_str("I"), m.opt_str("O")) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(UsageError("-I VIP needs -O GATEWAY (the magic packet's destination)".into())),
        (None, Some(_)) => return Err(UsageError("-O GATEWAY needs -I VIP (the magic packet's source)".into())),
        (Some(i), Some(o)) => (i, o),
    };
    let from: Ipv4Addr = from.parse().map_err(|_| UsageError(format!("-I {from}: not an IPv4 address")))?;
    if !vips.iter().any(|v| v.addr == from) {
        return Err(UsageError(format!("-I {from}: not one of the virtual addresses given")));
    }
    // A bare address (no prefix length), unicast as a VIP must be.
    let to = Some(to.as_str())
        .filter(|t| !t.contains('/'))
        .and_then(|t| parse_vip(t).ok())
        .ok_or_else(|| UsageError(format!("-O {to}: not an IPv4 unicast address")))?
        .addr;
    Ok(Some(Magic { from, to }))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(super) fn run(s: &str) -> Config {
        match parse(&s.split_whitespace().collect::<Vec<_>>()) {
            Ok(Command::Run(c)) => *c,
            other => panic!("{s}: {other:?}"),
        }
    }

    pub(super) fn err(s: &str) -> String {
        match parse(&s.split_whitespace().collect::<Vec<_>>()) {
            Err(UsageError(e)) => e,
            other => panic!("{s}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn original_example_with_vip_before_options() {
        let c = run("-i eth0 -v 51 10.16.1.200 -M 2 -U /etc/scripts/MASTER.sh -D /etc/scripts/DOWN.sh");
        assert_eq!(c.ifname, "eth0");
        assert_eq!(c.vrid, 51);
        assert_eq!(c.members, Some(2));
        assert_eq!(c.vips, vec![Vip { addr: Ipv4Addr::new(10, 16, 1, 200), prefix: 32 }]);
        assert_eq!(c.up_script, Some(PathBuf::from("/etc/scripts/MASTER.sh")));
        assert_eq!(c.down_script, Some(PathBuf::from("/etc/scripts/DOWN.sh")));
        assert_eq!(c.vmac(), [0, 0, 0x5e, 0, 1, 51]);
    }

    #[test]
    fn vrrp_version_and_centisecond_intervals() {
        let c = run("-i eth0 -v 51 10.0.0.1");
        assert_eq!((c.version, c.adver_int), (Version::V2, Interval::from_secs(1)));
        let c = run("--vrrp-version 3 -i eth0 -v 51 -d 0.01 10.0.0.1");
        assert_eq!((c.version, c.adver_int.centis()), (Version::V3, 1));
        assert_eq!(run("--vrrp-version 3 -i eth0 -v 51 -d 40.95 10.0.0.1").adver_int.centis(), 4095);
        assert_eq!(run("--vrrp-version 3 -i eth0 -v 51 -d 2 10.0.0.1").adver_int.centis(), 200);
        assert_eq!(run("--vrrp-version 2 -i eth0 -v 51 -d 255 10.0.0.1").adver_int.centis(), 25_500);
        assert!(err("--vrrp-version 4 -i eth0 -v 51 10.0.0.1").contains("must be 2 or 3"));
        assert!(err("-i eth0 -v 51 -d 0.5 10.0.0.1").contains("needs --vrrp-version 3"));
        assert!(err("-i eth0 -v 51 -d 0 10.0.0.1").contains("from 1 to 255"));
        assert!(err("-i eth0 -v 51 -d 256 10.0.0.1").contains("from 1 to 255"));
        for bad in ["0", "0.001", "40.96", "-1", "x"] {
            let e = err(&format!("--vrrp-version 3 -i eth0 -v 51 -d {bad} 10.0.0.1"));
            assert!(e.contains("0.01 to 40.95"), "{bad}: {e}");
        }
        assert!(err("--vrrp-version 3 -a pw/secret -i eth0 -v 51 10.0.0.1").contains("no authentication"));
    }

    #[test]
    fn defaults() {
        let c = run("-i eth0 -v 1 192.168.1.1");
        assert_eq!(c.priority, 100);
        assert_eq!(c.adver_int, Interval::from_secs(1));
        assert!(c.preempt);
        assert!(!c.no_vmac);
        assert!(!c.foreground);
        assert_eq!(c.auth, Auth::None);
        assert_eq!(c.rundir, PathBuf::from("/run/vrrpd"));
        assert_eq!(c.members, None);
        assert_eq!(c.hook_timeout, Duration::from_secs(30));
    }

    #[test]
    fn every_option() {
        let c = run(
            "10.0.0.9/24 -i br-lan -v 255 -s -a pw/secret -p 255 -d 3 -n -f /tmp/r -M 8 -z 50 -x 200 -F --hook-timeout 5 10.0.0.8",
        );
        assert!(!c.preempt && c.no_vmac && c.foreground);
        assert_eq!((c.vrid, c.priority, c.adver_int), (255, 255, Interval::from_secs(3)));
        assert_eq!(c.auth, Auth::password(b"secret").unwrap());
        assert_eq!((c.reduce_to, c.increase_to), (Some(50), Some(200)));
        assert_eq!(c.rundir, PathBuf::from("/tmp/r"));
        assert_eq!(c.hook_timeout, Duration::from_secs(5));
        // Sorted.
        assert_eq!(c.vip_addrs(), vec![Ipv4Addr::new(10, 0, 0, 8), Ipv4Addr::new(10, 0, 0, 9)]);
        assert_eq!(c.vips[1].prefix, 24);
        assert_eq!(run("-i e -v 1 -a pass/x 1.2.3.4").auth, Auth::password(b"x").unwrap());
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&["-h"]), Ok(Command::Help));
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
        assert_eq!(parse(&["-V"]), Ok(Command::Version));
        assert_eq!(parse(&["-i", "x", "-V"]), Ok(Command::Version));
        let u = usage();
        for o in [
            "-i",
            "-v",
            "-s",
            "-a",
            "-p",
            "-d",
            "-n",
            "-f",
            "-U",
            "-D",
            "-M",
            "-z",
            "-x",
            "-F",
            "-h",
            "-V",
            "--hook-timeout",
            "--strict-interval",
            "-I",
            "-O",
        ] {
            assert!(u.contains(o), "usage lacks {o}");
        }
    }

    #[test]
    fn every_invalid_input_names_option_and_value() {
        let cases = [
            ("-v 51 10.0.0.1", "-i IFNAME is required"),
            ("-i eth0 10.0.0.1", "-v VRID is required"),
            ("-i eth0 -v 51", "at least one virtual address"),
            ("-i eth0 -v 0 10.0.0.1", "-v 0"),
            ("-i eth0 -v 256 10.0.0.1", "-v 256"),
            ("-i eth0 -v abc 10.0.0.1", "-v abc"),
            ("-i eth0 -v 51 -p 0 10.0.0.1", "-p 0"),
            ("-i eth0 -v 51 -p 256 10.0.0.1", "-p 256"),
            ("-i eth0 -v 51 -d 0 10.0.0.1", "-d 0"),
            ("-i eth0 -v 51 -d 300 10.0.0.1", "-d 300"),
            ("-i eth0 -v 51 -M 0 10.0.0.1", "-M 0"),
            ("-i eth0 -v 51 -M 5000 10.0.0.1", "-M 5000"),
            ("-i eth0 -v 51 -z 255 10.0.0.1", "-z 255"),
            ("-i eth0 -v 51 -x 0 10.0.0.1", "-x 0"),
            ("-i eth0 -v 51 --hook-timeout 0 10.0.0.1", "--hook-timeout 0"),
            ("-i eth0 -v 51 -a ah/0x1234 10.0.0.1", "not supported"),
            ("-i eth0 -v 51 -a pw/ 10.0.0.1", "must not be empty"),
            ("-i eth0 -v 51 -I 10.0.0.1 10.0.0.1", "-I VIP needs -O"),
            ("-i eth0 -v 51 -O 10.0.0.254 10.0.0.1", "-O GATEWAY needs -I"),
            ("-i eth0 -v 51 -I 10.0.0.2 -O 10.0.0.254 10.0.0.1", "-I 10.0.0.2: not one of the virtual addresses"),
            ("-i eth0 -v 51 -I x -O 10.0.0.254 10.0.0.1", "-I x: not an IPv4 address"),
            ("-i eth0 -v 51 -I 10.0.0.1 -O 224.0.0.1 10.0.0.1", "-O 224.0.0.1: not an IPv4 unicast"),
            ("-i eth0 -v 51 -I 10.0.0.1 -O 10.0.0.254/24 10.0.0.1", "-O 10.0.0.254/24"),
            ("-i eth0 -v 51 -a md5/x 10.0.0.1", "-a md5/x"),
            ("-i eth0 -v 51 10.0.0.300", "10.0.0.300: not an IPv4 address"),
            ("-i eth0 -v 51 ipaddr", "ipaddr: not an IPv4 address"),
            ("-i eth0 -v 51 10.0.0.1/33", "10.0.0.1/33: prefix length"),
            ("-i eth0 -v 51 10.0.0.1/x", "prefix length"),
            ("-i eth0 -v 51 224.0.0.18", "unicast"),
            ("-i eth0 -v 51 127.0.0.1", "unicast"),
            ("-i eth0 -v 51 0.0.0.0", "unicast"),
            ("-i eth0 -v 51 255.255.255.255", "unicast"),
            ("-i eth0 -v 51 10.0.0.1 10.0.0.1/24", "given twice"),
            ("-i eth0 -v 51 -U Master.sh 10.0.0.1", "-U Master.sh: give an absolute path"),
            ("-i eth0 -v 51 -D rel 10.0.0.1", "-D rel"),
            ("-i eth0 -v 51 -f run 10.0.0.1", "-f run"),
            ("-i averyveryverylongname -v 51 10.0.0.1", "not a valid interface name"),
            ("-i eth0:1 -v 51 10.0.0.1", "not a valid interface name"),
            ("-i eth0 -i eth1 -v 51 10.0.0.1", "Option 'i' given more than once"),
            ("-i eth0 -v 51 -q 10.0.0.1", "Unrecognized option"),
            ("-i eth0 -v", "Argument to option 'v' missing"),
        ];
        for (line, want) in cases {
            let e = err(line);
            assert!(e.contains(want), "{line}: got {e:?}, want {want:?}");
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
    }

    #[test]
    fn long_password_is_cut_to_8_bytes_with_a_warning() {
        let c = run("-i eth0 -v 51 -a pw/abcdefghijkl 10.0.0.1");
        assert_eq!(c.auth, Auth::password(b"abcdefgh").unwrap());
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("12 bytes") && c.warnings[0].contains("first 8"), "{:?}", c.warnings);
        assert!(run("-i eth0 -v 51 -a pw/abcdefgh 10.0.0.1").warnings.is_empty());
    }

    #[test]
    fn magic_packet_and_strict_interval() {
        let c = run("-i eth0 -v 11 10.1.1.1 -I 10.1.1.1 -O 10.1.1.254 -n");
        assert_eq!(c.magic, Some(Magic { from: Ipv4Addr::new(10, 1, 1, 1), to: Ipv4Addr::new(10, 1, 1, 254) }));
        assert!(!c.strict_interval);
        assert!(run("-i eth0 -v 11 --strict-interval 10.1.1.1").strict_interval);
        assert_eq!(run("-i eth0 -v 11 10.1.1.1").magic, None);
    }

    #[test]
    fn non_utf8_arguments_are_a_usage_error() {
        use std::os::unix::ffi::OsStringExt;
        let args = vec![std::ffi::OsString::from("-i"), std::ffi::OsString::from_vec(vec![b'e', 0xff, b'0'])];
        let e = args_utf8(args.into_iter()).unwrap_err().0;
        assert!(e.contains("argument 2") && e.contains("not valid UTF-8"), "{e}");
        assert_eq!(args_utf8(["-i", "eth0"].iter().map(std::ffi::OsString::from)).unwrap(), vec!["-i", "eth0"]);
    }

    #[test]
    fn host_wide_hooks() {
        let c = run("-i eth0 -v 51 -M 2 --host-up /etc/vrrpd/host-up.sh --host-down /etc/vrrpd/host-down.sh 10.0.0.1");
        assert_eq!(c.host_up_script, Some(PathBuf::from("/etc/vrrpd/host-up.sh")));
        assert_eq!(c.host_down_script, Some(PathBuf::from("/etc/vrrpd/host-down.sh")));
        let c = run("-i eth0 -v 51 10.0.0.1");
        assert_eq!((c.host_up_script, c.host_down_script), (None, None));
        assert_eq!(run("--host-down=/x -i eth0 -v 51 10.0.0.1").host_down_script, Some(PathBuf::from("/x")));
        let u = usage();
        assert!(u.contains("--host-up") && u.contains("--host-down"), "{u}");
        for (line, want) in [
            ("-i eth0 -v 51 --host-up host-up.sh 10.0.0.1", "--host-up host-up.sh: give an absolute path"),
            ("-i eth0 -v 51 --host-down rel 10.0.0.1", "--host-down rel: give an absolute path"),
            ("-i eth0 -v 51 --host-up= 10.0.0.1", "--host-up: empty path"),
            ("-i eth0 -v 51 10.0.0.1 --host-up", "Argument to option 'host-up' missing"),
            ("-i eth0 -v 51 --host-up /a --host-up /b 10.0.0.1", "given more than once"),
        ] {
            let e = err(line);
            assert!(e.contains(want), "{line}: got {e:?}, want {want:?}");
        }
    }

    #[test]
    fn too_many_addresses() {
        let mut args = vec!["-i".to_string(), "e".into(), "-v".into(), "1".into()];
        for i in 0..256u32 {
            args.push(format!("10.1.{}.{}", i / 200, 1 + i % 200));
        }
        assert!(parse(&args).unwrap_err().0.contains("at most 255"));
        args.pop();
        assert!(parse(&args).is_ok());
    }
}
