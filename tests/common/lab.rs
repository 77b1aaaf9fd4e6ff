//! The lab itself: its namespaces, bridges and veth legs, the processes it starts (vrrpd,
//! keepalived, tcpdump) and its cleanup on drop.
use super::*;

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
            if let Some(t) = read_regular(&h.rundir.join("state")) {
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
