//! The operations kit: install.sh into a temporary --destdir (files, modes, samples never overwritten,
//! uninstall), man pages (lint, every option of `vrrpd -h` and `atropos --help` documented), the
//! shell scripts (syntax), the systemd units (`systemd-analyze verify` where it works) and the SysV
//! init script (start/status/stop of a real vrrpd in a network namespace, as root).
//!
//! Nothing here needs a release build: install.sh takes the binaries from target/debug
//! (`--bindir-from`). A check whose tool is missing prints "skipped: ..." and passes.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vrrpd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

fn skip(why: &str) {
    println!("skipped: {why}");
    eprintln!("skipped: {why}");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn have(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn show(o: &Output) -> String {
    format!("status {}\n--- stdout:\n{}--- stderr:\n{}", o.status, text(&o.stdout), text(&o.stderr))
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{cmd:?}: cannot run: {e}"))
}

fn run_ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(o.status.success(), "{cmd:?} failed: {}", show(&o));
    text(&o.stdout)
}

/// A temporary directory, removed on drop (also after a panic).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("vrrpd-ops-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777
}

/// The directory holding both vrrpd and an up-to-date atropos (target/debug in a normal build).
/// `cargo test` builds the vrrpd binary for us; atropos belongs to another package, so build it.
fn bin_dir() -> PathBuf {
    let dir = vrrpd_bin().parent().expect("binary dir").to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let o = run(Command::new(cargo).args(["build", "-q", "-p", "atropos"]).current_dir(root()));
    if !o.status.success() {
        eprintln!("cargo build -p atropos failed (using whatever is in {}): {}", dir.display(), show(&o));
    }
    assert!(dir.join("atropos").is_file(), "no atropos binary in {}", dir.display());
    dir
}

fn install_sh(destdir: &Path, extra: &[&str]) -> String {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("install.sh")).arg("--destdir").arg(destdir).args(extra).env_remove("DESTDIR");
    run_ok(&mut cmd)
}

// ---------------------------------------------------------------------------------------------
// install.sh

#[test]
fn install_reinstall_uninstall_in_a_destdir() {
    let bins = bin_dir();
    let tmp = TempDir::new("install");
    let dest = tmp.path().join("dest");
    let from = ["--bindir-from", bins.to_str().unwrap()];

    let out = install_sh(&dest, &from);
    let p = |s: &str| dest.join(s.trim_start_matches('/'));
    let expected = [
        ("/usr/local/sbin/vrrpd", 0o755),
        ("/usr/local/sbin/atropos", 0o755),
        ("/usr/local/share/man/man8/vrrpd.8", 0o644),
        ("/usr/local/share/man/man8/atropos.8", 0o644),
        ("/etc/vrrpd/Master.sh", 0o755),
        ("/etc/vrrpd/Backup.sh", 0o755),
        ("/etc/vrrpd/vrrp_on.sh", 0o755),
        ("/etc/vrrpd/eth0.conf", 0o644),
        ("/etc/vrrpd/conntrackd-host.sh", 0o755),
        ("/etc/vrrpd/conntrackd.conf", 0o644),
        ("/lib/systemd/system/vrrpd@.service", 0o644),
        ("/lib/systemd/system/vrrpd.target", 0o644),
        ("/etc/init.d/vrrpd", 0o755),
    ];
    for (f, m) in expected {
        assert!(p(f).is_file(), "{f} not installed; install.sh printed:\n{out}");
        assert_eq!(mode(&p(f)), m, "mode of {f}");
        assert!(out.contains(&p(f).display().to_string()), "install.sh did not report {f}:\n{out}");
    }
    assert_eq!(fs::read(p("/usr/local/sbin/vrrpd")).unwrap(), fs::read(bins.join("vrrpd")).unwrap());
    assert_eq!(
        fs::read(p("/usr/local/share/man/man8/vrrpd.8")).unwrap(),
        fs::read(root().join("man/vrrpd.8")).unwrap()
    );
    let manifest = p("/usr/local/share/vrrpd/install.manifest");
    assert!(manifest.is_file(), "no manifest");
    let unit = fs::read_to_string(p("/lib/systemd/system/vrrpd@.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/sbin/vrrpd -F $VRRPD_ARGS"), "{unit}");

    // Idempotent: nothing changes the second time.
    let again = install_sh(&dest, &from);
    for line in again.lines() {
        let verb = line.split_whitespace().next().unwrap_or("");
        assert!(
            ["unchanged", "kept"].contains(&verb),
            "second install changed something: {line:?}\nfull output:\n{again}"
        );
    }

    // The administrator edits a sample: a new install keeps it, reports it, and does not touch it.
    let master = p("/etc/vrrpd/Master.sh");
    let mut edited = fs::read_to_string(&master).unwrap();
    edited.push_str("# edited by the administrator\n");
    fs::write(&master, &edited).unwrap();
    let third = install_sh(&dest, &from);
    assert_eq!(fs::read_to_string(&master).unwrap(), edited, "install.sh overwrote an edited sample");
    assert!(
        third.lines().any(|l| l.starts_with("kept") && l.contains("/etc/vrrpd/Master.sh")),
        "install.sh did not report the kept sample:\n{third}"
    );

    // Uninstall: everything it installed goes, except the edited sample.
    let un = install_sh(&dest, &["--uninstall"]);
    for (f, _) in expected {
        if f == "/etc/vrrpd/Master.sh" {
            assert!(p(f).is_file(), "uninstall removed the edited {f}:\n{un}");
        } else {
            assert!(!p(f).exists(), "uninstall left {f}:\n{un}");
        }
    }
    assert_eq!(fs::read_to_string(&master).unwrap(), edited);
    assert!(!manifest.exists(), "uninstall left the manifest");
    assert!(!p("/usr/local/sbin").exists(), "uninstall left the directories it created:\n{un}");
    // Uninstalling twice is harmless.
    install_sh(&dest, &["--uninstall"]);

    // --prefix /usr: the unit and the init script point at /usr/sbin.
    let dest2 = tmp.path().join("dest2");
    install_sh(&dest2, &["--prefix", "/usr", "--bindir-from", bins.to_str().unwrap()]);
    let unit = fs::read_to_string(dest2.join("lib/systemd/system/vrrpd@.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/sbin/vrrpd -F $VRRPD_ARGS"), "{unit}");
    let init = fs::read_to_string(dest2.join("etc/init.d/vrrpd")).unwrap();
    assert!(init.contains("VRRPD=/usr/sbin/vrrpd"), "init script not adapted to the prefix");
    assert!(dest2.join("usr/sbin/vrrpd").is_file());
}

#[test]
fn install_sh_usage_errors() {
    let o = run(Command::new("bash").arg(root().join("install.sh")).arg("--no-such-option"));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let o = run(Command::new("bash").arg(root().join("install.sh")).args(["--prefix", "relative"]));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let o = run(Command::new("bash").arg(root().join("install.sh")).arg("--help"));
    assert!(o.status.success() && text(&o.stdout).contains("--uninstall"), "{}", show(&o));
}

// ---------------------------------------------------------------------------------------------
// Man pages

/// The roff source with escapes removed, so that `\-\-state` reads `--state`.
fn man_text(page: &str) -> String {
    let src = fs::read_to_string(root().join("man").join(page)).expect("man page");
    let mut s = src.replace("\\-", "-").replace("\\c", "").replace("\\&", "");
    for f in ["\\fB", "\\fI", "\\fR", "\\fP"] {
        s = s.replace(f, "");
    }
    s
}

/// True when `opt` appears as a whole word (not followed or preceded by a letter, digit or dash).
fn mentions(text: &str, opt: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(opt).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + opt.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// Every option-looking word of a help text: `-i`, `--hook-timeout`, `[-s]`, `-h,` → `-h`.
fn options_in_help(help: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for tok in help.split_whitespace() {
        let t = tok.trim_start_matches('[').trim_end_matches([']', ',', '|', ')', '.', ':']);
        let t = t.split(['=', '[']).next().unwrap_or("");
        let name = t.trim_start_matches('-');
        if t.starts_with('-')
            && t.len() - name.len() <= 2
            && !name.is_empty()
            && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            set.insert(t.to_string());
        }
    }
    set
}

#[test]
fn man_pages_have_no_warnings() {
    if !have("man", "--version") {
        skip("man is not installed (apt-get install man-db groff)");
        return;
    }
    for page in ["vrrpd.8", "atropos.8"] {
        for width in ["80", "120"] {
            let o = run(Command::new("man")
                .args(["--warnings", "-l"])
                .arg(root().join("man").join(page))
                .env("MANWIDTH", width)
                .env("MAN_KEEP_FORMATTING", "0")
                .stdout(Stdio::null()));
            assert!(o.status.success(), "man -l {page}: {}", show(&o));
            let err = text(&o.stderr);
            assert!(err.trim().is_empty(), "man --warnings -l man/{page} (MANWIDTH={width}):\n{err}");
        }
    }
}

#[test]
fn every_vrrpd_option_is_in_the_man_page() {
    let o = run(Command::new(vrrpd_bin()).arg("-h"));
    assert!(o.status.success(), "vrrpd -h: {}", show(&o));
    let help = text(&o.stdout);
    let opts = options_in_help(&help);
    for must in ["-i", "-v", "-M", "-U", "-D", "--hook-timeout", "-h", "-V"] {
        assert!(opts.contains(must), "the parser missed {must} in vrrpd -h: {opts:?}");
    }
    let man = man_text("vrrpd.8");
    let missing: Vec<&String> = opts.iter().filter(|o| !mentions(&man, o)).collect();
    assert!(missing.is_empty(), "options of vrrpd -h missing from man/vrrpd.8: {missing:?}");
}

#[test]
fn every_atropos_option_is_in_the_man_page() {
    let atropos = bin_dir().join("atropos");
    let o = run(Command::new(&atropos).arg("--help"));
    let help = format!("{}{}", text(&o.stdout), text(&o.stderr));
    if !o.status.success() || !help.contains("--state") {
        skip("atropos --help does not list its commands yet");
        return;
    }
    let opts = options_in_help(&help);
    let man = man_text("atropos.8");
    let missing: Vec<&String> = opts.iter().filter(|o| !mentions(&man, o)).collect();
    assert!(missing.is_empty(), "options of atropos --help missing from man/atropos.8: {missing:?}");
}

#[test]
fn help_option_parser() {
    let o =
        options_in_help("Usage: x -i IF [-s] [-h] A[/LEN]\n  -h, --help   print\n  --hook-timeout SECS\n  a-b -- ---x");
    let want: BTreeSet<String> = ["-i", "-s", "-h", "--help", "--hook-timeout"].iter().map(|s| s.to_string()).collect();
    assert_eq!(o, want);
    assert!(mentions("see -h, or --help.", "-h"));
    assert!(!mentions("--hook-timeout", "--hook"));
    assert!(!mentions("-hx", "-h"));
}

// ---------------------------------------------------------------------------------------------
// Scripts

/// (path, interpreter) of every shell file of the kit.
fn shell_files() -> Vec<(PathBuf, &'static str)> {
    let mut v = vec![(root().join("install.sh"), "bash")];
    for e in fs::read_dir(root().join("scripts")).expect("scripts/") {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".sh") || name.ends_with(".init") || name.ends_with(".conf")) {
            continue;
        }
        let first = fs::read_to_string(&p).unwrap().lines().next().unwrap_or("").to_string();
        // A library sourced by the scripts has no shebang but a `# shellcheck shell=bash` line.
        let sourced = first.starts_with("# shellcheck shell=");
        let sh = if (first.starts_with("#!") || sourced) && first.contains("bash") { "bash" } else { "sh" };
        v.push((p, sh));
    }
    v.sort();
    v
}

#[test]
fn shell_scripts_parse() {
    let files = shell_files();
    for name in ["demo.sh", "vrrp_on.sh", "Master.sh", "Backup.sh", "vrrpd.init", "eth0.conf"] {
        assert!(files.iter().any(|(p, _)| p.ends_with(name)), "scripts/{name} is missing");
    }
    for (p, sh) in &files {
        let o = run(Command::new(sh).arg("-n").arg(p));
        assert!(o.status.success() && o.stderr.is_empty(), "{sh} -n {}: {}", p.display(), show(&o));
        if *sh == "sh" {
            // Also with bash and, where installed, dash: POSIX scripts must parse in both.
            let o = run(Command::new("bash").arg("-n").arg(p));
            assert!(o.status.success(), "bash -n {}: {}", p.display(), show(&o));
            if have("dash", "-c") {
                let o = run(Command::new("dash").arg("-n").arg(p));
                assert!(o.status.success(), "dash -n {}: {}", p.display(), show(&o));
            }
        }
        let name = p.file_name().unwrap().to_string_lossy();
        let first = fs::read_to_string(p).unwrap().lines().next().unwrap_or("").to_string();
        let sourced = first.starts_with("# shellcheck shell=");
        if !name.ends_with(".conf") && !sourced {
            assert!(
                first.starts_with("#!"),
                "{} has no #! line (a sourced library says `# shellcheck shell=`)",
                p.display()
            );
            assert!(mode(p) & 0o111 != 0, "{} must be executable", p.display());
        }
    }
}

#[test]
fn hooks_get_state_ifname_vrid_and_document_the_environment() {
    for hook in ["Master.sh", "Backup.sh"] {
        let s = fs::read_to_string(root().join("scripts").join(hook)).unwrap();
        for var in [
            "VRRP_STATE",
            "VRRP_PREV_STATE",
            "VRRP_IFACE",
            "VRRP_VRID",
            "VRRP_PRIORITY",
            "VRRP_VIPS",
            "VRRP_VMAC",
            "VRRP_REASON",
        ] {
            assert!(s.contains(var), "{hook} does not document {var}");
        }
        assert!(s.contains("logger -t vrrpd-hook"), "{hook} must log with logger -t vrrpd-hook");
        assert!(s.contains("label"), "{hook} must manage the alias with ip addr ... label");
    }
}

// ---------------------------------------------------------------------------------------------
// systemd

#[test]
fn systemd_units() {
    let unit = fs::read_to_string(root().join("scripts/vrrpd@.service")).unwrap();
    for line in [
        "ExecStart=/usr/local/sbin/vrrpd -F $VRRPD_ARGS",
        "EnvironmentFile=/etc/vrrpd/%i.conf",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=40",
        "PartOf=vrrpd.target",
        "WantedBy=vrrpd.target",
    ] {
        assert!(unit.lines().any(|l| l.trim() == line), "vrrpd@.service lacks {line:?}");
    }
    assert!(
        !unit.lines().any(|l| l.trim_start().starts_with("KillMode=")),
        "keep the default KillMode (control-group)"
    );
    let conf = fs::read_to_string(root().join("scripts/eth0.conf")).unwrap();
    assert!(conf.lines().any(|l| l.starts_with("VRRPD_ARGS=\"-i eth0 -v 51 ")), "eth0.conf: {conf}");

    if !have("systemd-analyze", "--version") {
        skip("systemd-analyze is not installed: units not verified");
        return;
    }
    let tmp = TempDir::new("units");
    let dir = tmp.path();
    // A control unit: if even this one does not verify, systemd-analyze does not work here.
    fs::write(
        dir.join("vrrpdopscontrol.service"),
        "[Unit]\nDescription=control\nWants=network-online.target\nAfter=network-online.target\n\n\
         [Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    let verify = |units: &[&str]| -> Output {
        let mut c = Command::new("systemd-analyze");
        c.args(["verify", "--man=no"]).current_dir(dir);
        for u in units {
            c.arg(format!("./{u}"));
        }
        run(&mut c)
    };
    let ctl = verify(&["vrrpdopscontrol.service"]);
    if !ctl.status.success() {
        skip(&format!("systemd-analyze verify does not work here: {}", text(&ctl.stderr).trim()));
        return;
    }
    // ExecStart must name an existing executable: point it at the binary under test.
    let unit_here = unit.replace("/usr/local/sbin/vrrpd", &vrrpd_bin().display().to_string());
    fs::write(dir.join("vrrpd@.service"), unit_here).unwrap();
    fs::copy(root().join("scripts/vrrpd.target"), dir.join("vrrpd.target")).unwrap();
    let o = verify(&["vrrpd@eth0.service", "vrrpd.target"]);
    let ours: Vec<&str> =
        std::str::from_utf8(&o.stderr).unwrap_or("").lines().filter(|l| l.contains("vrrpd")).collect();
    assert!(o.status.success() && ours.is_empty(), "systemd-analyze verify: {}", show(&o));
}

// ---------------------------------------------------------------------------------------------
// SysV init script, on a real vrrpd in a network namespace

struct Netns {
    name: String,
}

impl Netns {
    fn new(name: String) -> Netns {
        let _ = run(Command::new("ip").args(["netns", "del", &name]));
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        Netns { name }
    }
    fn ip(&self, args: &str) -> String {
        run_ok(Command::new("ip").args(["-n", &self.name]).args(args.split_whitespace()))
    }
    fn pids(&self) -> Vec<i32> {
        let o = run(Command::new("ip").args(["netns", "pids", &self.name]));
        text(&o.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for round in 0..50 {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                // SAFETY: kill(2) on processes living in our own namespace.
                unsafe { libc::kill(pid, if round < 20 { libc::SIGTERM } else { libc::SIGKILL }) };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = run(Command::new("ip").args(["netns", "del", &self.name]));
    }
}

#[test]
fn init_script_starts_and_stops_one_vrrpd_per_conf() {
    if !is_root() {
        skip("needs root (network namespace, vrrpd)");
        return;
    }
    if !have("ip", "-V") {
        skip("needs iproute2");
        return;
    }
    let tmp = TempDir::new("init");
    let (etc, rundir) = (tmp.path().join("etc"), tmp.path().join("run"));
    fs::create_dir_all(&etc).unwrap();
    let atropos = vrrpd_bin().with_file_name("atropos");
    let script = fs::read_to_string(root().join("scripts/vrrpd.init")).unwrap();
    let mut adapted = String::new();
    for line in script.lines() {
        let l = if line.starts_with("VRRPD=") {
            format!("VRRPD={}", vrrpd_bin().display())
        } else if line.starts_with("ATROPOS=") {
            format!("ATROPOS={}", atropos.display())
        } else if line.starts_with("CONFDIR=") {
            format!("CONFDIR={}", etc.display())
        } else if line.starts_with("RUNDIR=") {
            format!("RUNDIR={}", rundir.display())
        } else {
            line.to_string()
        };
        adapted.push_str(&l);
        adapted.push('\n');
    }
    for key in ["VRRPD=", "ATROPOS=", "CONFDIR=", "RUNDIR="] {
        assert!(script.lines().any(|l| l.starts_with(key)), "vrrpd.init has no {key} line");
    }
    let init = tmp.path().join("vrrpd.init");
    fs::write(&init, adapted).unwrap();
    fs::set_permissions(&init, fs::Permissions::from_mode(0o755)).unwrap();
    // Two virtual routers on eth0 (the second with -n: one vrrpd per interface sets the MAC) and one
    // on eth1: three processes, one group (-M 3).
    let members = [
        ("eth0.conf", "eth0", 51, "", "192.0.2.254"),
        ("eth0_53.conf", "eth0", 53, "-n", "192.0.2.253"),
        ("eth1.conf", "eth1", 52, "", "198.51.100.254"),
    ];
    for (conf, ifname, vrid, opt, vip) in members {
        fs::write(
            etc.join(conf),
            format!("# test\nVRRPD_ARGS=\"-f {} -i {ifname} -v {vrid} {opt} -M 3 {vip}\"\n", rundir.display()),
        )
        .unwrap();
    }

    let ns = Netns::new(format!("vo{}init", std::process::id()));
    ns.ip("link set lo up");
    for (i, net) in [(0, "192.0.2"), (1, "198.51.100")] {
        ns.ip(&format!("link add eth{i} type veth peer name p{i}"));
        ns.ip(&format!("addr add {net}.1/24 dev eth{i}"));
        ns.ip(&format!("link set eth{i} up"));
        ns.ip(&format!("link set p{i} up"));
    }
    let init_cmd =
        |arg: &str| -> Output { run(Command::new("ip").args(["netns", "exec", &ns.name, "sh"]).arg(&init).arg(arg)) };

    let o = init_cmd("status");
    assert_eq!(o.status.code(), Some(3), "status before start: {}", show(&o));
    let o = init_cmd("start");
    assert!(o.status.success(), "start: {}", show(&o));
    for (_, ifname, vrid, _, _) in members {
        let pidfile = rundir.join(format!("vrrpd_{ifname}_{vrid}.pid"));
        assert!(pidfile.is_file(), "no pid file for {ifname} vrid {vrid} after start: {}", show(&o));
    }
    let o = init_cmd("start");
    assert!(o.status.success() && text(&o.stdout).contains("already running"), "second start: {}", show(&o));
    let o = init_cmd("status");
    assert_eq!(o.status.code(), Some(0), "status while running: {}", show(&o));
    // The group of three becomes MASTER (alone on its LANs): every virtual address shows up.
    let start = Instant::now();
    while !members.iter().all(|m| ns.ip("-4 -o addr show").contains(&format!("{}/", m.4))) {
        assert!(start.elapsed() < Duration::from_secs(15), "no VIP after start:\n{}", ns.ip("-4 -o addr show"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = init_cmd("stop");
    assert!(o.status.success(), "stop: {}", show(&o));
    assert!(ns.pids().is_empty(), "processes left in the namespace after stop: {:?}", ns.pids());
    let addrs = ns.ip("-4 -o addr show");
    assert!(!addrs.contains(".254/") && !addrs.contains(".253/"), "virtual addresses left after stop:\n{addrs}");
    let o = init_cmd("status");
    assert_eq!(o.status.code(), Some(3), "status after stop: {}", show(&o));
    let o = init_cmd("stop");
    assert!(o.status.success(), "stop when stopped: {}", show(&o));
}

// ---------------------------------------------------------------------------------------------
// the demo, end to end

#[test]
fn demo_runs_end_to_end_and_cleans_up() {
    if !is_root() {
        skip("needs root for network namespaces");
        return;
    }
    // The demo builds what is missing (the workspace is already built by `cargo test`).
    let mut child = Command::new(root().join("scripts/demo.sh"))
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scripts/demo.sh");
    let pid = child.id();
    // Bounded: the demo must finish well under a minute; 150 s only catches a hang.
    let deadline = Instant::now() + Duration::from_secs(150);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("scripts/demo.sh still running after 150 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().expect("output");
    let stdout = text(&out.stdout);
    assert!(status.success(), "demo failed ({status}):\n{stdout}\n{}", text(&out.stderr));
    for want in [
        "VRRP OK: host is MASTER",
        "VRRP OK: host is BACKUP",
        "VRRP CRITICAL",
        "after the cable was pulled",
        "00:00:5e:00:01:33",
        "00:00:5e:00:01:34",
        "summary",
    ] {
        assert!(stdout.contains(want), "demo output lacks {want:?}:\n{stdout}");
    }
    // Nothing left behind: the demo's namespaces are named after its pid.
    let ns = text(&Command::new("ip").args(["netns", "list"]).output().expect("ip netns").stdout);
    assert!(!ns.contains(&format!("vdemo{pid}")), "demo namespaces left behind:\n{ns}");
}
