//! The stateful-firewall lab of tests/sessions.rs: the `-M 2` pair of `pair.rs` routing between LAN A
//! (a client with long-lived TCP connections) and LAN B (an echo server), the VIPs as gateways, an
//! nftables ruleset that lets only established sessions and new ones from inside through, a third
//! link between the firewalls for conntrackd (own config, socket and lock file per firewall), and
//! the kit's host hook (scripts/conntrackd/conntrackd-host.sh) driving it.

use super::pair::*;
use super::*;
use std::time::{SystemTime, UNIX_EPOCH};

pub const CONNS: usize = 20;
pub const PORT: u16 = 5001;
/// The dedicated sync link between the two firewalls (inside their namespaces).
pub const SYNC_IF: &str = "sssync0";

const RULESET: &str = "table inet ssfw {
    chain forward_filter {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname \"eth0\" oifname \"eth1\" tcp flags & (fin|syn|rst|ack) == syn ct state new accept
    }
}
";

pub fn root_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub struct Sessions {
    pub lab: Lab,
    pub with_conntrackd: bool,
    /// Per host (index 0 = host 1): its two vrrpd members and its conntrackd.
    pub vrrpd: Vec<Vec<Proc>>,
    pub conntrackd: Vec<Option<Proc>>,
    pub status: PathBuf,
    pub orig: Vec<Vec<String>>,
}

impl Sessions {
    fn ctd_conf(&self, n: usize) -> PathBuf {
        self.lab.dir.join(format!("ss-conntrackd-h{n}.conf"))
    }

    /// Builds the lab, starts conntrackd (or not: the control), both firewalls, the server and the
    /// client; returns once host 1 is MASTER and every connection carries data (and, with conntrackd,
    /// host 2 holds every session in its external cache).
    pub fn start(tag: &str, with_conntrackd: bool) -> Sessions {
        let lab = Lab::new(tag, 2, 2);
        let (h1, h2) = (lab.h(1).to_string(), lab.h(2).to_string());
        exec(&h1, &format!("ip link add {SYNC_IF} type veth peer name {SYNC_IF} netns {h2}"));
        let ruleset = lab.dir.join("ss-firewall.nft");
        fs::write(&ruleset, RULESET).unwrap();
        for n in 1..=2 {
            let ns = lab.h(n);
            exec(ns, &format!("ip addr add 203.0.113.{n}/24 dev {SYNC_IF}"));
            exec(ns, &format!("ip link set {SYNC_IF} up"));
            // Routing, and no pick-up of a TCP connection in the middle (conntrack-tools' manual).
            exec(ns, "sysctl -q -w net.ipv4.ip_forward=1 net.netfilter.nf_conntrack_tcp_loose=0");
            exec(ns, &format!("nft -f {}", ruleset.display()));
        }
        exec(lab.client(0), &format!("ip route add default via {VIP_A}"));
        exec(lab.client(1), &format!("ip route add default via {VIP_B}"));
        let status = lab.dir.join("ss-client.status");
        let mut s = Sessions {
            orig: (1..=2).map(|n| macs(&lab, n)).collect(),
            lab,
            with_conntrackd,
            vrrpd: Vec::new(),
            conntrackd: vec![None, None],
            status,
        };
        for n in 1..=2 {
            if with_conntrackd {
                s.write_ctd_conf(n);
                let conf = s.ctd_conf(n).to_string_lossy().into_owned();
                s.conntrackd[n - 1] =
                    Some(s.lab.spawn(s.lab.h(n), &["conntrackd", "-C", &conf], &format!("ss-conntrackd-h{n}")));
            }
        }
        for n in 1..=2 {
            let procs = (0..2).map(|lan| s.start_member(n, lan)).collect();
            s.vrrpd.push(procs);
        }
        let lab = &s.lab;
        lab.wait_until(HANG, "host 1 MASTER on both LANs, host 2 BACKUP", || {
            assert_running(&s.vrrpd[0]);
            assert_running(&s.vrrpd[1]);
            owns_all(lab, 1) && holds_nothing(lab, 2, &s.orig[1]) && all_live_state(lab, 2, &s.vrrpd[1], "BACKUP")
        });
        let server = root_path("scripts/sessions.py").to_string_lossy().into_owned();
        let port = PORT.to_string();
        let srv = lab.spawn(lab.client(1), &["/usr/bin/python3", &server, "server", &port], "ss-server");
        lab.wait_until(HANG, "the echo server listens", || {
            assert!(srv.is_running(), "server exited: {}", srv.log_text());
            srv.log_text().contains("listening")
        });
        let n = CONNS.to_string();
        let st = s.status.to_string_lossy().into_owned();
        let cli =
            lab.spawn(lab.client(0), &["/usr/bin/python3", &server, "client", CLIENT_B, &port, &n, &st], "ss-client");
        lab.wait_until(HANG, "every connection through host 1 carries data", || {
            assert!(cli.is_running(), "client exited: {}", cli.log_text());
            s.echoed_since(0) == CONNS
        });
        if with_conntrackd {
            lab.wait_until(HANG, "host 2's conntrackd holds every session in its external cache", || {
                s.external_sessions(2) >= CONNS
            });
        }
        s
    }

    fn start_member(&self, n: usize, lan: usize) -> Proc {
        let rundir = self.lab.host(n).rundir.to_string_lossy().into_owned();
        let hook = root_path("scripts/conntrackd/conntrackd-host.sh").to_string_lossy().into_owned();
        let extra = if self.with_conntrackd { format!("--host-up {hook} --host-down {hook}") } else { String::new() };
        let args = member_args(n, lan, &extra);
        let conf = format!("CONNTRACKD_CONFIG={}", self.ctd_conf(n).display());
        let lock = format!("CONNTRACKD_LOCK={}", self.lab.dir.join(format!("ss-conntrackd-h{n}.lock")).display());
        let mut argv = vec!["env", &conf, &lock, Lab::vrrpd_bin(), "-F", "-f", &rundir];
        argv.extend(args.split_whitespace());
        self.lab.spawn(self.lab.h(n), &argv, &format!("vrrpd-h{n}"))
    }

    fn write_ctd_conf(&self, n: usize) {
        let d = &self.lab.dir;
        let other = 3 - n;
        let text = format!(
            "Sync {{\n\tMode FTFW {{\n\t}}\n\tUDP {{\n\t\tIPv4_address 203.0.113.{n}\n\t\tIPv4_Destination_Address 203.0.113.{other}\n\t\tPort 3780\n\t\tInterface {SYNC_IF}\n\t\tChecksum on\n\t}}\n}}\n\
             General {{\n\tHashSize 8192\n\tHashLimit 65535\n\tSyslog off\n\tLogFile {log}\n\tLockFile {lock}\n\tUNIX {{\n\t\tPath {sock}\n\t}}\n\
             \tFilter From Userspace {{\n\t\tProtocol Accept {{\n\t\t\tTCP\n\t\t}}\n\t\tAddress Ignore {{\n\t\t\tIPv4_address 127.0.0.1\n\
             \t\t\tIPv4_address {VIP_A}\n\t\t\tIPv4_address {VIP_B}\n\t\t\tIPv4_address {a}\n\t\t\tIPv4_address {b}\n\t\t\tIPv4_address 203.0.113.{n}\n\t\t}}\n\t}}\n}}\n",
            log = d.join(format!("ss-conntrackd-h{n}.ctdlog")).display(),
            lock = d.join(format!("ss-conntrackd-h{n}.lock")).display(),
            sock = d.join(format!("ss-conntrackd-h{n}.ctl")).display(),
            a = host_ip(n, 0),
            b = host_ip(n, 1),
        );
        fs::write(self.ctd_conf(n), text).unwrap();
    }

    /// Sessions of the client in host `n`'s conntrackd external cache (the other firewall's).
    pub fn external_sessions(&self, n: usize) -> usize {
        let conf = self.ctd_conf(n).to_string_lossy().into_owned();
        let out = try_exec_args(self.lab.h(n), &["conntrackd", "-C", &conf, "-e", "ct"]);
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains(&format!("dport={PORT}"))).count()
    }

    /// Connections whose last echo came back after `t_ms` (Unix ms).
    pub fn echoed_since(&self, t_ms: u64) -> usize {
        let text = fs::read_to_string(&self.status).unwrap_or_default();
        if text.lines().next() != Some(&format!("connected {CONNS}")) {
            return 0;
        }
        text.lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
            .filter(|last| *last > t_ms)
            .count()
    }

    /// Host `n` dies: its vrrpd members and its conntrackd are SIGKILLed, then its links go dark (a
    /// dead host sends nothing: the addresses and the MAC a killed vrrpd leaves stay off the LANs).
    pub fn host_death(&self, n: usize) {
        for p in &self.vrrpd[n - 1] {
            p.kill9();
        }
        if let Some(c) = &self.conntrackd[n - 1] {
            c.kill9();
        }
        for lan in 0..2 {
            exec(&self.lab.switch, &format!("ip link set h{n}e{lan} down"));
        }
        exec(self.lab.h(n), &format!("ip link set {SYNC_IF} down"));
    }

    pub fn host_owns_all(&self, n: usize) -> bool {
        owns_all(&self.lab, n) && holds_nothing(&self.lab, 3 - n, &self.orig[2 - n])
    }
}
