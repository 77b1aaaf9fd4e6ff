//! Real-kernel labs for the integration tests: network namespaces, Linux bridges, veth pairs.
//!
//! A lab is one "switch" namespace holding one bridge per LAN, N host namespaces whose veth legs
//! `eth0`/`eth1` are plugged into those bridges, and one client namespace per LAN (veth `eth0`,
//! `arp_accept=1`, so a gratuitous ARP creates a neighbour entry that shows which MAC owns a VIP).
//!
//! Addresses (documentation ranges): LAN A 192.0.2.0/24 on `eth0`, LAN B 198.51.100.0/24 on `eth1`;
//! host N is `.N`, the client is `.100`; VIPs are `.200` and up.
//!
//! Every name carries the test's tag and the process id, so tests run in parallel threads and
//! parallel `cargo test` runs do not collide. Interface names inside the namespaces are fixed and
//! short (`eth0`, `br0`, `h1e0`…): each lab has its own switch namespace, so they cannot collide.
//!
//! On drop (also after a panic) the lab kills every process it started, by pid (SIGTERM, then
//! SIGKILL after a grace period), kills whatever else still runs inside its own namespaces, and
//! deletes its namespaces. When the test panicked it first prints the tail of every log and a
//! snapshot of the lab. Logs live in a per-lab directory under the temp dir; it is removed after
//! a successful test unless `VRRPD_LAB_KEEP=1`.
#![allow(dead_code)]
pub mod inject;
pub mod json;
pub mod keepalived;
pub mod pair;
pub mod sessions;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const LAN_PREFIX: [&str; 2] = ["192.0.2", "198.51.100"];
pub const VIP_A: &str = "192.0.2.200";
pub const VIP_B: &str = "198.51.100.200";
pub const CLIENT_A: &str = "192.0.2.100";
pub const CLIENT_B: &str = "198.51.100.100";
pub const POLL: Duration = Duration::from_millis(25);

/// The virtual MAC of a VRID, as `ip` prints it.
pub fn vmac(vrid: u8) -> String {
    format!("00:00:5e:00:01:{vrid:02x}")
}

/// The address of host `n` on LAN `lan` (0 = A, 1 = B), without prefix.
pub fn host_ip(n: usize, lan: usize) -> String {
    format!("{}.{}", LAN_PREFIX[lan], n)
}

/// Master_Down_Interval of RFC 3768 for a priority, with 1 s adverts.
pub fn master_down_interval(prio: u8) -> Duration {
    Duration::from_secs(3) + Duration::from_secs_f64(f64::from(256 - u32::from(prio)) / 256.0)
}

// ---------------------------------------------------------------------------------------------
// Skips

/// True (and a clear line printed) when the test cannot run because we are not root.
/// Use as `if common::skip_unless_root() { return; }`.
pub fn skip_unless_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root for network namespaces");
        eprintln!("skipped: needs root for network namespaces");
        return true;
    }
    if Command::new("ip").arg("-V").output().map(|o| !o.status.success()).unwrap_or(true) {
        println!("skipped: needs iproute2 (`ip`)");
        eprintln!("skipped: needs iproute2 (`ip`)");
        return true;
    }
    false
}

/// True (and a clear line printed) when a program is not installed.
pub fn skip_unless_installed(program: &str, version_arg: &str) -> bool {
    let ok = Command::new(program).arg(version_arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !ok {
        println!("skipped: {program} is not installed");
        eprintln!("skipped: {program} is not installed");
    }
    !ok
}

// ---------------------------------------------------------------------------------------------
// Commands in namespaces

fn cmd_line(ns: &str, args: &[&str]) -> String {
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
fn ip(args: &[&str]) -> Output {
    Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("ip {}: cannot run: {e}", args.join(" ")))
}

fn ip_ok(args: &[&str]) {
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

fn sorted_lines(s: &str) -> Vec<String> {
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

/// Parses a vrrpd shared state file: one line per member, tab-separated `key=value` fields.
pub fn read_state_file(path: &Path) -> Vec<BTreeMap<String, String>> {
    let Ok(text) = fs::read_to_string(path) else {
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

/// Polls `cond` every [`POLL`] until it holds; panics with `what` after `timeout`.
/// Returns the time it took.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if cond() {
            return start.elapsed();
        }
        if start.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `cond` every [`POLL`] during `window` and panics with `what` as soon as it fails:
/// "this stays true for N seconds".
pub fn hold_for(window: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < window {
        if !cond() {
            panic!("{what}: broke after {:?} (expected to hold for {window:?})", start.elapsed());
        }
        std::thread::sleep(POLL);
    }
    assert!(cond(), "{what}: broke at the end of the {window:?} window");
}

/// Sends a signal to a pid.
pub fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) with a pid we started; no memory is involved.
    unsafe { libc::kill(pid, sig) == 0 }
}

fn tail(path: &Path, n: usize) -> String {
    let text = fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// Processes

struct ProcInner {
    child: Child,
    status: Option<ExitStatus>,
}

/// A process started by the lab. Cheap to clone; the lab keeps a clone to kill it on drop.
#[derive(Clone)]
pub struct Proc {
    pub pid: i32,
    pub name: String,
    /// stdout + stderr (or only stdout when `err_log` is set).
    pub log: PathBuf,
    pub err_log: Option<PathBuf>,
    inner: Rc<RefCell<ProcInner>>,
}

impl Proc {
    pub fn signal(&self, sig: i32) {
        if self.is_running() {
            signal(self.pid, sig);
        }
    }
    pub fn term(&self) {
        self.signal(libc::SIGTERM)
    }
    pub fn kill9(&self) {
        self.signal(libc::SIGKILL)
    }
    /// Reaps the process if it exited; never blocks.
    pub fn try_status(&self) -> Option<ExitStatus> {
        let mut inner = self.inner.borrow_mut();
        if inner.status.is_none()
            && let Ok(Some(st)) = inner.child.try_wait()
        {
            inner.status = Some(st);
        }
        inner.status
    }
    pub fn is_running(&self) -> bool {
        self.try_status().is_none()
    }
    /// Waits (polling) for the exit; panics after `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> ExitStatus {
        let mut st = None;
        wait_until(timeout, &format!("{} (pid {}) to exit", self.name, self.pid), || {
            st = self.try_status();
            st.is_some()
        });
        st.unwrap()
    }
    /// The whole log (stdout + stderr unless separated).
    pub fn log_text(&self) -> String {
        fs::read(&self.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }
    pub fn err_text(&self) -> String {
        match &self.err_log {
            Some(p) => fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default(),
            None => self.log_text(),
        }
    }
    /// Stops the process: SIGTERM, SIGKILL after `grace`; always reaps it.
    pub fn stop(&self, grace: Duration) {
        if !self.is_running() {
            return;
        }
        signal(self.pid, libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < grace {
            if !self.is_running() {
                return;
            }
            std::thread::sleep(POLL);
        }
        signal(self.pid, libc::SIGKILL);
        let mut inner = self.inner.borrow_mut();
        if inner.status.is_none()
            && let Ok(st) = inner.child.wait()
        {
            inner.status = Some(st);
        }
    }
}

/// The result of a command run to completion with a deadline.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A running tcpdump; [`Capture::stop`] returns what it printed.
pub struct Capture {
    pub proc: Proc,
}

impl Capture {
    /// The text printed so far (tcpdump runs with `-l -U`).
    pub fn text(&self) -> String {
        self.proc.log_text()
    }
    /// Stops tcpdump with SIGINT (so it flushes) and returns its decode.
    pub fn stop(self) -> String {
        self.proc.signal(libc::SIGINT);
        let start = Instant::now();
        while self.proc.is_running() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(POLL);
        }
        self.proc.stop(Duration::from_secs(1));
        self.proc.log_text()
    }
}

// ---------------------------------------------------------------------------------------------
// The lab

pub struct Host {
    /// 1-based; the host's address is `.n` on every LAN.
    pub n: usize,
    pub ns: String,
    /// This host's vrrpd run directory (`-f`).
    pub rundir: PathBuf,
}

pub struct Lab {
    pub name: String,
    pub dir: PathBuf,
    pub switch: String,
    pub hosts: Vec<Host>,
    /// One client namespace per LAN.
    pub clients: Vec<String>,
    pub lans: usize,
    namespaces: Vec<String>,
    procs: RefCell<Vec<Proc>>,
    counter: RefCell<usize>,
}

static LABS: AtomicUsize = AtomicUsize::new(0);

impl Lab {
    /// Same as [`skip_unless_root`]: `if Lab::skip_unless_root() { return; }`.
    pub fn skip_unless_root() -> bool {
        skip_unless_root()
    }

    /// Builds a lab with `hosts` hosts (1 or 2) attached to `lans` LANs (1 or 2).
    /// `tag` names the test (short: it goes into namespace names).
    pub fn new(tag: &str, hosts: usize, lans: usize) -> Lab {
        assert!((1..=9).contains(&hosts) && (1..=2).contains(&lans), "hosts 1-9, lans 1-2");
        let tag: String = tag.chars().filter(|c| c.is_ascii_alphanumeric()).take(12).collect();
        let seq = LABS.fetch_add(1, Ordering::SeqCst);
        let name =
            format!("vt{}-{}{}", std::process::id(), tag, if seq == 0 { String::new() } else { format!("{seq}") });
        let dir = std::env::temp_dir().join(format!("vrrpd-lab-{name}"));
        let switch = format!("{name}-sw");
        let host_ns: Vec<String> = (1..=hosts).map(|n| format!("{name}-h{n}")).collect();
        let clients: Vec<String> = (0..lans).map(|l| format!("{name}-c{}", ['a', 'b'][l])).collect();
        let mut namespaces = vec![switch.clone()];
        namespaces.extend(host_ns.iter().cloned());
        namespaces.extend(clients.iter().cloned());

        // Leftovers of the same names (an earlier run that was killed with the same pid).
        for ns in &namespaces {
            remove_namespace(ns);
        }
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("lab dir");

        let hosts: Vec<Host> = host_ns
            .into_iter()
            .enumerate()
            .map(|(i, ns)| {
                let rundir = dir.join(format!("run-h{}", i + 1));
                fs::create_dir_all(&rundir).expect("run dir");
                Host { n: i + 1, ns, rundir }
            })
            .collect();

        let lab = Lab {
            name,
            dir,
            switch,
            hosts,
            clients,
            lans,
            namespaces,
            procs: RefCell::new(Vec::new()),
            counter: RefCell::new(0),
        };
        // From here on, a panic drops `lab`, which removes what was created.
        lab.build();
        lab
    }

    fn build(&self) {
        let sw = &self.switch;
        ip_ok(&["netns", "add", sw]);
        exec(sw, "ip link set lo up");
        for l in 0..self.lans {
            exec(sw, &format!("ip link add br{l} type bridge stp_state 0 forward_delay 0 mcast_snooping 0"));
            exec(sw, &format!("ip link set br{l} up"));
        }
        for h in &self.hosts {
            ip_ok(&["netns", "add", &h.ns]);
            exec(&h.ns, "ip link set lo up");
            for l in 0..self.lans {
                let leg = format!("h{}e{l}", h.n);
                exec(
                    &h.ns,
                    &format!(
                        "ip link add eth{l} address 02:00:00:00:0{l}:{:02x} type veth peer name {leg} netns {sw}",
                        h.n
                    ),
                );
                exec(sw, &format!("ip link set {leg} master br{l} up"));
                exec(&h.ns, &format!("ip addr add {}/24 dev eth{l}", host_ip(h.n, l)));
                exec(&h.ns, &format!("ip link set eth{l} up"));
            }
        }
        for (l, c) in self.clients.iter().enumerate() {
            ip_ok(&["netns", "add", c]);
            exec(c, "ip link set lo up");
            let leg = format!("c{l}");
            exec(c, &format!("ip link add eth0 address 02:00:00:00:0{l}:64 type veth peer name {leg} netns {sw}"));
            exec(sw, &format!("ip link set {leg} master br{l} up"));
            exec(c, "sysctl -q -w net.ipv4.conf.all.arp_accept=1 net.ipv4.conf.eth0.arp_accept=1");
            exec(c, &format!("ip addr add {}.100/24 dev eth0", LAN_PREFIX[l]));
            exec(c, "ip link set eth0 up");
        }
    }

    /// Host `n` (1-based).
    pub fn host(&self, n: usize) -> &Host {
        &self.hosts[n - 1]
    }
    /// Namespace of host `n` (1-based).
    pub fn h(&self, n: usize) -> &str {
        &self.hosts[n - 1].ns
    }
    /// Namespace of the client of LAN `lan` (0 = A).
    pub fn client(&self, lan: usize) -> &str {
        &self.clients[lan]
    }

    fn next_log(&self, stem: &str) -> PathBuf {
        let mut c = self.counter.borrow_mut();
        *c += 1;
        self.dir.join(format!("{:02}-{stem}.log", *c))
    }

    /// Starts `argv` inside `ns`; stdout and stderr go to `log_name` in the lab dir.
    /// `ip netns exec` execs, so the pid is the program's own.
    pub fn spawn(&self, ns: &str, argv: &[&str], log_name: &str) -> Proc {
        let log = self.next_log(log_name);
        let f = File::create(&log).expect("log file");
        let f2 = f.try_clone().expect("log file");
        self.spawn_with(ns, argv, log_name, log, None, Stdio::from(f), Stdio::from(f2))
    }

    /// Like [`Lab::spawn`] with stdout and stderr in two files (`.out` / `.err`).
    pub fn spawn_split(&self, ns: &str, argv: &[&str], log_name: &str) -> Proc {
        let out = self.next_log(&format!("{log_name}.out"));
        let err = out.with_extension("err");
        let fo = File::create(&out).expect("log file");
        let fe = File::create(&err).expect("log file");
        self.spawn_with(ns, argv, log_name, out, Some(err), Stdio::from(fo), Stdio::from(fe))
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_with(
        &self,
        ns: &str,
        argv: &[&str],
        name: &str,
        log: PathBuf,
        err_log: Option<PathBuf>,
        stdout: Stdio,
        stderr: Stdio,
    ) -> Proc {
        if let Ok(mut f) = OpenOptions::new().append(true).open(&log) {
            use std::io::Write;
            let _ = writeln!(f, "# {}", cmd_line(ns, argv));
        }
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: cannot spawn: {e}", cmd_line(ns, argv)));
        let p = Proc {
            pid: child.id() as i32,
            name: format!("{name} in {ns}"),
            log,
            err_log,
            inner: Rc::new(RefCell::new(ProcInner { child, status: None })),
        };
        self.procs.borrow_mut().push(p.clone());
        p
    }

    /// Runs `argv` in `ns` to completion; kills it and panics after `timeout`.
    pub fn run_to_exit(&self, ns: &str, argv: &[&str], name: &str, timeout: Duration) -> Outcome {
        let p = self.spawn_split(ns, argv, name);
        let status = p.wait_exit(timeout);
        Outcome { status, stdout: p.log_text(), stderr: p.err_text() }
    }

    /// The vrrpd binary under test.
    pub fn vrrpd_bin() -> &'static str {
        env!("CARGO_BIN_EXE_vrrpd")
    }

    /// Starts `vrrpd -F -f <host's run dir> ARGS` in host `n`; `args` is split on whitespace,
    /// e.g. `"-i eth0 -v 51 -p 110 192.0.2.200"`.
    pub fn vrrpd(&self, n: usize, args: &str) -> Proc {
        let rundir = self.host(n).rundir.to_string_lossy().into_owned();
        let mut argv = vec![Self::vrrpd_bin(), "-F", "-f", &rundir];
        argv.extend(args.split_whitespace());
        self.spawn(self.h(n), &argv, &format!("vrrpd-h{n}"))
    }

    /// The `state=` field of the state-file line of host `n` for `ifname` (`None` while absent).
    pub fn vrrpd_state(&self, n: usize, ifname: &str) -> Option<String> {
        read_state_file(&self.host(n).rundir.join("state"))
            .into_iter()
            .find(|m| m.get("if").map(String::as_str) == Some(ifname))
            .and_then(|m| m.get("state").cloned())
    }

    /// The state-file line of host `n` for the member (`ifname`, `vrid`), matched on both fields
    /// (several vrids may share an interface). It may be the record of a dead process.
    pub fn vrrpd_record(&self, n: usize, ifname: &str, vrid: u8) -> Option<BTreeMap<String, String>> {
        let vrid = vrid.to_string();
        read_state_file(&self.host(n).rundir.join("state"))
            .into_iter()
            .find(|m| m.get("if").map(String::as_str) == Some(ifname) && m.get("vrid") == Some(&vrid))
    }

    /// The `state=` of the running vrrpd `p`'s own record for (`ifname`, `vrid`) on host `n`; `None`
    /// while `p` is not running or the line is not `p`'s (`pid=` differs), e.g. the MASTER line of a
    /// SIGKILLed predecessor. Waits must use this, not the kernel alone: the VIP and the virtual MAC a
    /// killed vrrpd left behind stay on the interface until its successor's recovery removes them, and
    /// a vrrpd writes its first line only after that recovery (and every later line after the kernel
    /// changes of its transition).
    pub fn live_state(&self, n: usize, ifname: &str, vrid: u8, p: &Proc) -> Option<String> {
        if !p.is_running() {
            return None;
        }
        let m = self.vrrpd_record(n, ifname, vrid)?;
        if m.get("pid") != Some(&p.pid.to_string()) {
            return None;
        }
        m.get("state").cloned()
    }

    /// A run-dir file of host `n`'s member (`ifname`, `vrid`) with extension `ext` (`pid`, `sock`):
    /// `vrrpd_<if>_<vrid>.<ext>` (names carrying the vrid) or, failing that, `vrrpd_<if>.<ext>` (the
    /// older names); `None` while neither exists.
    pub fn vrrpd_run_file(&self, n: usize, ifname: &str, vrid: u8, ext: &str) -> Option<PathBuf> {
        let dir = &self.host(n).rundir;
        [dir.join(format!("vrrpd_{ifname}_{vrid}.{ext}")), dir.join(format!("vrrpd_{ifname}.{ext}"))]
            .into_iter()
            .find(|p| p.exists())
    }

    /// The control socket of host `n`'s member (`ifname`, `vrid`), see [`Lab::vrrpd_run_file`].
    pub fn vrrpd_sock(&self, n: usize, ifname: &str, vrid: u8) -> Option<PathBuf> {
        self.vrrpd_run_file(n, ifname, vrid, "sock")
    }

    /// Asks the member itself: `GET` on its control socket, the fields of its `INFO` answer (`None`
    /// when there is no socket, no answer within 1 s, or another answer).
    pub fn vrrpd_info(&self, n: usize, ifname: &str, vrid: u8) -> Option<BTreeMap<String, String>> {
        use std::io::{BufRead, BufReader, Write};
        let sock = self.vrrpd_sock(n, ifname, vrid)?;
        let mut s = std::os::unix::net::UnixStream::connect(sock).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        s.set_write_timeout(Some(Duration::from_secs(1))).ok()?;
        s.write_all(b"GET\n").ok()?;
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).ok()?;
        let mut fields = line.trim_end().split('\t');
        if fields.next() != Some("INFO") {
            return None;
        }
        Some(fields.filter_map(|f| f.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    /// Starts keepalived (VRRP only) in host `n` with one `vrrp_instance` on `eth0`.
    /// `extra` is appended inside the instance block (e.g. `"nopreempt"`).
    pub fn keepalived(&self, n: usize, vrid: u8, prio: u8, vips: &[&str], extra: &str) -> Proc {
        let c = {
            let mut c = self.counter.borrow_mut();
            *c += 1;
            *c
        };
        let base = self.dir.join(format!("keepalived-h{n}-{c}"));
        let conf = base.with_extension("conf");
        let text = format!(
            "global_defs {{\n\
             \x20   router_id {name}_h{n}\n\
             \x20   vrrp_version 2\n\
             \x20   vrrp_garp_master_delay 0\n\
             \x20   vrrp_garp_master_repeat 1\n\
             \x20   vrrp_garp_master_refresh 0\n\
             \x20   script_user root\n\
             \x20   enable_script_security\n\
             }}\n\
             vrrp_instance VI_{vrid} {{\n\
             \x20   state BACKUP\n\
             \x20   interface eth0\n\
             \x20   virtual_router_id {vrid}\n\
             \x20   priority {prio}\n\
             \x20   advert_int 1\n\
             \x20   virtual_ipaddress {{\n{addrs}    }}\n\
             \x20   {extra}\n\
             }}\n",
            name = self.name,
            addrs = vips.iter().map(|a| format!("        {a}\n")).collect::<String>(),
        );
        fs::write(&conf, text).expect("keepalived conf");
        self.spawn_keepalived(n, &conf, &base)
    }

    /// Runs keepalived (VRRP only, foreground, logs to stderr) in host `n` with the configuration
    /// `conf`; its two pid files are `base`.pid and `base`.vrrp.pid (unique per instance).
    pub fn spawn_keepalived(&self, n: usize, conf: &Path, base: &Path) -> Proc {
        let pid1 = base.with_extension("pid");
        let pid2 = base.with_extension("vrrp.pid");
        let (conf, pid1, pid2) = (conf.to_string_lossy(), pid1.to_string_lossy(), pid2.to_string_lossy());
        let argv = ["keepalived", "-n", "-l", "-D", "-P", "-f", &conf, "-p", &pid1, "-r", &pid2];
        self.spawn(self.h(n), &argv, &format!("keepalived-h{n}"))
    }

    /// Starts `tcpdump -i eth0 -vv -n -e -l -U proto 112` in the client of LAN `lan` and waits
    /// until it listens.
    pub fn tcpdump(&self, lan: usize) -> Capture {
        let p = self.spawn_split(
            self.client(lan),
            &["tcpdump", "-i", "eth0", "-vv", "-n", "-e", "-l", "-U", "proto", "112"],
            "tcpdump",
        );
        wait_until(Duration::from_secs(10), "tcpdump to listen", || {
            assert!(p.is_running(), "tcpdump exited: {}", p.err_text());
            p.err_text().contains("listening on")
        });
        Capture { proc: p }
    }

    /// Polls `cond` until it holds; on timeout panics with `what` and a snapshot of the lab.
    pub fn wait_until(&self, timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
        let start = Instant::now();
        loop {
            if cond() {
                return start.elapsed();
            }
            if start.elapsed() >= timeout {
                panic!("timed out after {timeout:?} waiting for: {what}\n{}", self.snapshot());
            }
            std::thread::sleep(POLL);
        }
    }

    /// Addresses, MACs, neighbour entries and state files: printed when something fails.
    pub fn snapshot(&self) -> String {
        let mut s = String::new();
        for h in &self.hosts {
            let _ = writeln!(s, "--- host {} ({})", h.n, h.ns);
            for l in 0..self.lans {
                let o = try_exec_args(&h.ns, &["ip", "-br", "link", "show", "dev", &format!("eth{l}")]);
                let _ = write!(s, "{}", String::from_utf8_lossy(&o.stdout));
                let o = try_exec_args(&h.ns, &["ip", "-o", "-4", "addr", "show", "dev", &format!("eth{l}")]);
                for line in String::from_utf8_lossy(&o.stdout).lines() {
                    let _ = writeln!(s, "  {}", line.split('\\').next().unwrap_or(""));
                }
            }
            if let Ok(t) = fs::read_to_string(h.rundir.join("state")) {
                let _ = writeln!(
                    s,
                    "  state file:\n{}",
                    t.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
                );
            }
        }
        for c in &self.clients {
            let o = try_exec_args(c, &["ip", "-4", "neigh", "show"]);
            let _ = writeln!(s, "--- client {c} neighbours:\n{}", String::from_utf8_lossy(&o.stdout).trim_end());
        }
        s
    }

    /// Prints the tail of every log and a snapshot of the lab (called on drop after a panic).
    pub fn dump_logs(&self) {
        let mut s = format!("===== lab {} (logs in {}) =====\n", self.name, self.dir.display());
        s.push_str(&self.snapshot());
        for p in self.procs.borrow().iter() {
            let _ = writeln!(s, "===== {} (pid {}, {:?}): {}", p.name, p.pid, p.try_status(), p.log.display());
            let _ = writeln!(s, "{}", tail(&p.log, 60));
            if let Some(e) = &p.err_log {
                let _ = writeln!(s, "----- stderr:\n{}", tail(e, 60));
            }
        }
        eprintln!("{s}");
    }
}

/// Kills whatever runs inside a namespace (by pid) and deletes it; silent when it does not exist.
fn remove_namespace(ns: &str) {
    if !Path::new("/run/netns").join(ns).exists() {
        return;
    }
    for round in 0..40 {
        let out = ip(&["netns", "pids", ns]);
        let pids: Vec<i32> =
            String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect();
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            signal(pid, if round == 0 { libc::SIGTERM } else { libc::SIGKILL });
        }
        std::thread::sleep(POLL);
    }
    let _ = ip(&["netns", "del", ns]);
}

impl Drop for Lab {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        if panicking {
            self.dump_logs();
        }
        // Our own processes, by pid: SIGTERM, grace, SIGKILL, reap.
        let procs: Vec<Proc> = self.procs.borrow().clone();
        for p in &procs {
            if p.is_running() {
                signal(p.pid, libc::SIGTERM);
            }
        }
        let start = Instant::now();
        while procs.iter().any(Proc::is_running) && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(POLL);
        }
        for p in &procs {
            p.stop(Duration::ZERO);
        }
        // Anything left inside our namespaces (e.g. a keepalived child), then the namespaces.
        for ns in self.namespaces.iter().rev() {
            remove_namespace(ns);
        }
        let keep = std::env::var_os("VRRPD_LAB_KEEP").is_some_and(|v| v == "1");
        if !panicking && !keep {
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("lab {}: logs kept in {}", self.name, self.dir.display());
        }
    }
}

/// The atropos binary next to the vrrpd under test. `cargo test` builds only the binaries of the
/// package whose tests run, so the first call builds atropos (same target dir and profile).
pub fn atropos_bin() -> PathBuf {
    static BUILD: std::sync::Once = std::sync::Once::new();
    let vrrpd = Path::new(env!("CARGO_BIN_EXE_vrrpd"));
    let bin = vrrpd.with_file_name("atropos");
    BUILD.call_once(|| {
        let profile_dir = vrrpd.parent().expect("binary directory");
        let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        c.args(["build", "-q", "-p", "atropos"]).current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            c.arg("--release");
        }
        if let Some(target_dir) = profile_dir.parent() {
            c.env("CARGO_TARGET_DIR", target_dir);
        }
        match c.status() {
            Ok(st) if st.success() => {}
            other => eprintln!("cargo build -p atropos: {other:?} (using what is in {})", profile_dir.display()),
        }
    });
    assert!(bin.is_file(), "no atropos binary at {} (cargo build -p atropos failed)", bin.display());
    bin
}

/// `atropos -f RUNDIR ARGS`: exit code and stdout.
pub fn atropos_run(rundir: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(atropos_bin())
        .arg("-f")
        .arg(rundir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run atropos: {e}"));
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned())
}
