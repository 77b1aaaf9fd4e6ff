//! vrrpd: parse → validate (before detaching, so every error reaches the terminal) → detach → run.

use std::process::ExitCode;
use vrrpd::cli::{self, Command, Config};
use vrrpd::daemon::{self, Daemon, Exit};
use vrrpd::rundir::{self, MemberId};
use vrrpd::sys::maclock::MacLock;
use vrrpd::sys::netlink::Rtnl;
use vrrpd::sys::proc::{self, PidError, PidFile};
use vrrpd::sys::{log as vlog, raw};

/// Exit statuses: 0 done, 1 environment error, 2 usage error.
const EXIT_ENV: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("vrrpd: {msg}");
    ExitCode::from(code)
}

/// Checks the configuration against the system. One line per problem, the first one found.
fn validate(cfg: &Config) -> Result<u32, String> {
    if !proc::is_root() {
        return Err("vrrpd must be run as root (it sets MAC and IP addresses and opens raw sockets)".into());
    }
    let ifindex = raw::ifindex(&cfg.ifname).ok_or_else(|| format!("-i {}: no such network interface", cfg.ifname))?;
    let mut rtnl = Rtnl::open().map_err(|e| format!("rtnetlink: {e}"))?;
    let addrs = rtnl.addrs(ifindex).map_err(|e| format!("-i {}: cannot read its addresses: {e}", cfg.ifname))?;
    // An IPv6-only router needs no IPv4 address (its link-local one is checked at run time).
    if !cfg.vips.is_empty() && daemon::primary_of(&addrs, &cfg.vip_addrs()).is_none() {
        return Err(format!(
            "-i {}: the interface has no IPv4 address of its own (VRRP adverts need a source address)",
            cfg.ifname
        ));
    }
    let link = rtnl.link(ifindex).map_err(|e| format!("-i {}: {e}", cfg.ifname))?;
    let restorable = link.ethernet && link.mac.is_some_and(|m| m != [0; 6]);
    if !cfg.no_vmac && !restorable {
        return Err(format!(
            "-i {}: not an Ethernet interface with a MAC address of its own (loopback, tunnel...): \
             the virtual MAC could not be given back; use -n to leave the MAC alone",
            cfg.ifname
        ));
    }
    if link.mac.is_none() {
        return Err(format!("-i {}: not an Ethernet interface (no MAC address)", cfg.ifname));
    }
    for (opt, script) in [
        ("-U", &cfg.up_script),
        ("-D", &cfg.down_script),
        ("--host-up", &cfg.host_up_script),
        ("--host-down", &cfg.host_down_script),
    ] {
        if let Some(p) = script {
            proc::check_script(p).map_err(|e| format!("{opt} {e}"))?;
        }
    }
    for argv in &cfg.track.scripts {
        proc::check_script(std::path::Path::new(&argv[0])).map_err(|e| format!("--track-script {e}"))?;
    }
    rundir::prepare(&cfg.rundir)?;
    Ok(ifindex)
}

/// At most one process per interface sets its MAC, whatever its run dir (`-n` members take no claim).
fn claim_mac(cfg: &Config, ifindex: u32) -> Result<Option<MacLock>, String> {
    if cfg.no_vmac {
        return Ok(None);
    }
    match MacLock::acquire(ifindex) {
        Ok(Some(l)) => Ok(Some(l)),
        Ok(None) => {
            let holder = rundir::read_state(&cfg.rundir)
                .unwrap_or_default()
                .into_iter()
                .find(|m| m.ifname == cfg.ifname && !m.no_vmac && proc::alive(m.pid))
                .map(|m| format!("vrrpd pid {} (vrid {})", m.pid, m.vrid))
                .unwrap_or_else(|| "another vrrpd (with another run directory)".into());
            Err(format!(
                "-i {}: {holder} already sets the virtual MAC on {}; run this one with -n",
                cfg.ifname, cfg.ifname
            ))
        }
        Err(e) => Err(format!("-i {}: cannot claim the interface's MAC: {e}", cfg.ifname)),
    }
}

fn main() -> ExitCode {
    let args = match cli::args_utf8(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => return fail(EXIT_USAGE, &e.0),
    };
    let cfg = match cli::parse(&args) {
        Ok(Command::Help) => {
            println!("{}", cli::usage());
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("vrrpd {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Command::Run(c)) => *c,
        Err(e) => return fail(EXIT_USAGE, &e.0),
    };
    for w in &cfg.warnings {
        eprintln!("vrrpd: warning: {w}");
    }
    let ifindex = match validate(&cfg) {
        Ok(i) => i,
        Err(e) => return fail(EXIT_ENV, &e),
    };
    let id = MemberId::new(&cfg.ifname, cfg.vrid);
    let pid_path = rundir::pid_path(&cfg.rundir, &id);
    let mut pidfile = match PidFile::acquire(&pid_path) {
        Ok(p) => p,
        Err(PidError::Running(pid)) => {
            let who = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            return fail(EXIT_ENV, &format!("a vrrpd is already running on {id}{who}; see {}", pid_path.display()));
        }
        Err(PidError::Io(e)) => return fail(EXIT_ENV, &format!("{}: {e}", pid_path.display())),
    };
    let mac_claim = match claim_mac(&cfg, ifindex) {
        Ok(c) => c,
        Err(e) => {
            drop(pidfile);
            let _ = std::fs::remove_file(&pid_path);
            return fail(EXIT_ENV, &e);
        }
    };
    let detached = if cfg.foreground {
        None
    } else {
        match proc::detach() {
            Ok(d) => Some(d),
            Err(e) => return fail(EXIT_ENV, &format!("cannot detach: {e}")),
        }
    };
    vlog::init(format!("{} vrid {}: ", cfg.ifname, cfg.vrid), !cfg.foreground);
    for w in &cfg.warnings {
        log::warn!("{w}");
    }
    if let Err(e) = pidfile.write_pid() {
        log::warn!("cannot write {}: {e}", pid_path.display());
    }
    let mut daemon = match Daemon::new(cfg.clone(), ifindex) {
        Ok(d) => d,
        Err(e) => {
            log::error!("{e}");
            if let Some(d) = detached {
                d.report(Err(e));
            } else {
                eprintln!("vrrpd: {e}");
            }
            let _ = std::fs::remove_file(&pid_path);
            return ExitCode::from(EXIT_ENV);
        }
    };
    if let Some(d) = detached {
        d.report(Ok(()));
    }
    let exit = daemon.run();
    let _ = std::fs::remove_file(&pid_path);
    drop(pidfile);
    drop(mac_claim);
    match exit {
        Exit::Signal => ExitCode::SUCCESS,
        Exit::InterfaceGone => ExitCode::from(EXIT_ENV),
    }
}
