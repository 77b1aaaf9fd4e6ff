//! atropos: shows and steers the vrrpd processes of a host through their Unix sockets in the run dir.
//!
//! Exit statuses follow the monitoring plugin convention for `--state`: 0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN. The other commands exit 0 on success, 1 when a member did not confirm, 2 on a usage error,
//! 3 when nothing can be reached.

mod ipv6;
mod row;
mod state;
mod survey;
mod trackers;

use state::{OK, UNKNOWN, WARNING, cmd_state};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use survey::survey;
use vrrpd::control::Request;
use vrrpd::info::Info;
use vrrpd::rundir::{self, RecordState, unix_ms as now_ms};
use vrrpd::sys::proc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    State,
    Backup,
    Resume,
    Reduce,
    Increase,
    Help,
    Version,
}

#[derive(Debug)]
struct Args {
    cmd: Cmd,
    json: bool,
    rundir: PathBuf,
}

fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    o.optflag("s", "state", "show the host's state and every vrrpd (monitoring exit codes)");
    o.optflag("j", "json", "with --state: one JSON document");
    o.optflag("b", "backup", "maintenance drain: the whole host goes BACKUP and stays there");
    o.optflag("r", "resume", "end the drain: the election decides again");
    o.optflag("z", "reduce", "priority -10 (or the vrrpd -z value) on every vrrpd");
    o.optflag("x", "increase", "priority +10 (or the vrrpd -x value) on every vrrpd");
    o.optopt("f", "rundir", "vrrpd's run directory (default /run/vrrpd)", "RUNDIR");
    o.optflag("h", "help", "print this help");
    o.optflag("V", "version", "print the version");
    o
}

fn usage() -> String {
    options().usage(
        "Usage: atropos [-f RUNDIR] COMMAND\n\n\
         Shows and steers the vrrpd processes of this host.\n\
         Commands: --state (-s) [--json], --backup (-b), --resume (-r), --reduce (-z), --increase (-x),\n\
         --help (-h), --version (-V). The original's -state and -backup are accepted.\n\
         --state exits 0 OK, 1 WARNING (drained, priority changed), 2 CRITICAL (members disagree, missing,\n\
         dead, link down), 3 UNKNOWN (no vrrpd, no run dir, not root).",
    )
}

fn parse_args(raw: Vec<String>) -> Result<Args, String> {
    // The original atropos took single-dash long words.
    let raw: Vec<String> = raw
        .into_iter()
        .map(|a| match a.as_str() {
            "-state" | "-backup" | "-resume" | "-reduce" | "-increase" | "-help" | "-json" | "-version" => {
                format!("-{a}")
            }
            _ => a,
        })
        .collect();
    let m = options().parse(&raw).map_err(|e| format!("{e} (see atropos --help)"))?;
    if !m.free.is_empty() {
        return Err(format!("unexpected argument {:?} (see atropos --help)", m.free[0]));
    }
    let mut cmds = Vec::new();
    for (o, c) in [
        ("state", Cmd::State),
        ("backup", Cmd::Backup),
        ("resume", Cmd::Resume),
        ("reduce", Cmd::Reduce),
        ("increase", Cmd::Increase),
        ("help", Cmd::Help),
        ("version", Cmd::Version),
    ] {
        if m.opt_present(o) {
            cmds.push(c);
        }
    }
    let cmd = match cmds.as_slice() {
        [] if m.opt_present("json") => Cmd::State,
        [] => return Err("no command given (see atropos --help)".into()),
        [c] => *c,
        [Cmd::Help, ..] | [.., Cmd::Help] => Cmd::Help,
        _ => return Err("give one command at a time".into()),
    };
    if m.opt_present("json") && cmd != Cmd::State {
        return Err("--json goes with --state".into());
    }
    let rundir = PathBuf::from(m.opt_str("f").unwrap_or_else(|| vrrpd::cli::DEFAULT_RUNDIR.into()));
    Ok(Args { cmd, json: m.opt_present("json"), rundir })
}

/// Sends one command to every member; prints one line each. Exit 0 when all confirmed.
fn broadcast(dir: &Path, req: Request, what: &str) -> u8 {
    let seen = survey(dir, req);
    if seen.is_empty() {
        println!("no vrrpd found in {}", dir.display());
        return UNKNOWN;
    }
    let mut code = OK;
    for s in &seen {
        match &s.answer {
            Ok(m) => {
                let detail: Vec<&str> = m.fields.values().map(|v| v.as_str()).collect();
                println!("{}: {what} {}", s.ifname, detail.join(", "));
            }
            Err(e) => {
                if s.record.as_ref().is_some_and(|r| r.state == RecordState::Dead) {
                    println!("{}: not running (dead member)", s.ifname);
                } else {
                    println!("{}: FAILED: {e}", s.ifname);
                }
                code = WARNING;
            }
        }
    }
    code
}

fn cmd_backup(dir: &Path) -> u8 {
    let path = rundir::drain_path(dir);
    // Write nothing where no vrrpd runs (a mistyped -f must not leave a drain file behind).
    if !survey(dir, Request::Get).iter().any(|s| s.answer.is_ok()) {
        println!("no vrrpd answers in {}: nothing drained, nothing written", dir.display());
        return UNKNOWN;
    }
    let t0 = Instant::now();
    if let Err(e) = rundir::set_drain(dir, "atropos --backup", now_ms()) {
        println!("cannot create {}: {e}", path.display());
        return UNKNOWN;
    }
    println!("drain recorded in {} (it holds until atropos --resume, across vrrpd restarts)", path.display());
    let code = broadcast(dir, Request::Drain, "drained, now");
    if code == UNKNOWN {
        return code;
    }
    // Watch for the peer taking each LAN over (the new master's first advert), for a while.
    let mut pending: Vec<String> =
        survey(dir, Request::Get).into_iter().filter(|s| s.answer.is_ok()).map(|s| s.ifname).collect();
    let deadline = t0 + Duration::from_secs(5);
    while !pending.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        for s in survey(dir, Request::Get) {
            let Some(info) = s.answer.as_ref().ok().and_then(|m| Info::from_message(m).ok()) else { continue };
            if !pending.contains(&s.ifname) {
                continue;
            }
            if let Some(h) = &info.heard {
                let p = h.priority;
                let heard_at = Instant::now().checked_sub(Duration::from_millis(h.ago_ms));
                if p > 0 && heard_at.is_some_and(|h| h > t0) {
                    let after = heard_at.map(|h| h.duration_since(t0)).unwrap_or_default();
                    println!(
                        "{}: peer {} (priority {p}) took over, first advert {:.2} s after the drain",
                        s.ifname,
                        h.src,
                        after.as_secs_f64()
                    );
                    pending.retain(|n| n != &s.ifname);
                }
            }
        }
    }
    for n in pending {
        println!("{n}: no peer heard taking over within 5 s (no peer on that LAN, or it cannot be seen from here)");
    }
    code
}

fn cmd_resume(dir: &Path) -> u8 {
    let path = rundir::drain_path(dir);
    // Only in a vrrpd run dir (one with a state file, or a member answering): never remove another `drain`.
    let ours = std::fs::symlink_metadata(dir.join(rundir::STATE_FILE)).is_ok()
        || survey(dir, Request::Get).iter().any(|s| s.answer.is_ok());
    if !ours {
        println!("{} is not a vrrpd run directory (no state file, no vrrpd answers): nothing done", dir.display());
        return UNKNOWN;
    }
    match std::fs::remove_file(&path) {
        Ok(()) => println!("drain removed ({})", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => println!("the host was not drained"),
        Err(e) => {
            println!("cannot remove {}: {e}", path.display());
            return UNKNOWN;
        }
    }
    broadcast(dir, Request::Resume, "resumed, now")
}

fn main() -> ExitCode {
    proc::default_sigpipe();
    let raw = match vrrpd::cli::args_utf8(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("atropos: {e}");
            return ExitCode::from(2);
        }
    };
    let args = match parse_args(raw) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("atropos: {e}");
            return ExitCode::from(2);
        }
    };
    match args.cmd {
        Cmd::Help => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Cmd::Version => {
            println!("atropos {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    if !proc::is_root() {
        println!("atropos must be run as root");
        return ExitCode::from(UNKNOWN);
    }
    if !args.rundir.is_dir() {
        println!("VRRP UNKNOWN: no run directory {} (is vrrpd running? see -f)", args.rundir.display());
        return ExitCode::from(UNKNOWN);
    }
    if let Err(e) = rundir::check_trusted(&args.rundir) {
        println!("VRRP UNKNOWN: {e}");
        return ExitCode::from(UNKNOWN);
    }
    let code = match args.cmd {
        Cmd::State => cmd_state(&args.rundir, args.json),
        Cmd::Backup => cmd_backup(&args.rundir),
        Cmd::Resume => cmd_resume(&args.rundir),
        Cmd::Reduce => broadcast(&args.rundir, Request::Reduce, "priority now"),
        Cmd::Increase => broadcast(&args.rundir, Request::Increase, "priority now"),
        Cmd::Help | Cmd::Version => OK,
    };
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Args, String> {
        parse_args(a.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn commands_long_short_and_legacy() {
        for (args, cmd) in [
            (&["--state"][..], Cmd::State),
            (&["-s"], Cmd::State),
            (&["-state"], Cmd::State),
            (&["--backup"], Cmd::Backup),
            (&["-b"], Cmd::Backup),
            (&["-backup"], Cmd::Backup),
            (&["--resume"], Cmd::Resume),
            (&["-r"], Cmd::Resume),
            (&["--reduce"], Cmd::Reduce),
            (&["-z"], Cmd::Reduce),
            (&["--increase"], Cmd::Increase),
            (&["-x"], Cmd::Increase),
            (&["-h"], Cmd::Help),
            (&["--version"], Cmd::Version),
        ] {
            assert_eq!(p(args).unwrap().cmd, cmd, "{args:?}");
        }
        let a = p(&["-f", "/tmp/x", "--state", "--json"]).unwrap();
        assert!(a.json);
        assert_eq!(a.rundir, PathBuf::from("/tmp/x"));
        assert_eq!(p(&["--json"]).unwrap().cmd, Cmd::State);
    }

    #[test]
    fn bad_usage() {
        assert!(p(&[]).unwrap_err().contains("no command"));
        assert!(p(&["--state", "--backup"]).unwrap_err().contains("one command"));
        assert!(p(&["--backup", "--json"]).unwrap_err().contains("--json goes with --state"));
        assert!(p(&["--frobnicate"]).is_err());
        assert!(p(&["state"]).unwrap_err().contains("unexpected argument"));
    }
}
