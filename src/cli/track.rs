//! The tracking options of the command line: `--track-process`, `--track-script` with its interval,
//! timeout, fall and rise, `--track-interface`, and `--preempt-delay`.

use super::{UsageError, parse_ifname};
use crate::track::{DEFAULT_INTERVAL, MAX_COMM, MAX_PROCESSES, Spec};
use std::time::Duration;

/// Longest accepted interval, timeout or preempt delay (one hour: beyond it, a typo).
const MAX_SECS: f64 = 3600.0;

pub(super) fn options(o: &mut getopts::Options) {
    o.optmulti("", "track-process", "the host is healthy while a process with this name runs (repeatable)", "NAME");
    o.optmulti("", "track-script", "check run without a shell: a non-zero exit or a timeout is a failure", "CMD");
    o.optopt("", "track-interval", "seconds between two runs of a check (default 2; decimals allowed)", "SECS");
    o.optopt("", "track-timeout", "seconds before a check is killed (default: the interval)", "SECS");
    o.optopt("", "track-fall", "failures in a row that make a healthy check fail (default 1)", "N");
    o.optopt("", "track-rise", "successes in a row that make a failed check healthy (default 1)", "N");
    o.optmulti(
        "",
        "track-interface",
        "the host is healthy while this interface has its carrier (repeatable)",
        "IFNAME",
    );
    o.optopt("", "preempt-delay", "after a start or a cleared fault, follow a lower-priority master this long", "SECS");
}

/// Seconds with decimals, from 0.01 (or 0 when `zero_ok`) to an hour.
fn secs(m: &getopts::Matches, opt: &str, zero_ok: bool) -> Result<Option<Duration>, UsageError> {
    let Some(s) = m.opt_str(opt) else { return Ok(None) };
    let lo = if zero_ok { 0.0 } else { 0.01 };
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= lo && v <= MAX_SECS => Ok(Some(Duration::from_secs_f64(v))),
        _ => Err(UsageError(format!("--{opt} {s}: must be a number of seconds from {lo} to {MAX_SECS}"))),
    }
}

fn count(m: &getopts::Matches, opt: &str) -> Result<Option<u32>, UsageError> {
    let Some(s) = m.opt_str(opt) else { return Ok(None) };
    match s.parse::<u32>() {
        Ok(n) if (1..=255).contains(&n) => Ok(Some(n)),
        _ => Err(UsageError(format!("--{opt} {s}: must be a number from 1 to 255"))),
    }
}

/// `--track-process NAME`: a process name as the kernel keeps it (`comm`).
fn process_name(s: &str) -> Result<String, UsageError> {
    if s.is_empty() || s.contains('/') || s.chars().any(|c| c.is_control()) {
        return Err(UsageError(format!("--track-process {s:?}: give a process name (no path), e.g. haproxy")));
    }
    if s.len() > MAX_COMM {
        return Err(UsageError(format!(
            "--track-process {s}: the kernel keeps {MAX_COMM} bytes of a process name; give {:?}",
            s.get(..MAX_COMM).unwrap_or(s)
        )));
    }
    Ok(s.to_string())
}

/// `--track-script "CMD ARGS"`: split on blanks (no shell, no quoting), an absolute program path.
fn script(s: &str) -> Result<Vec<String>, UsageError> {
    let argv: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    match argv.first() {
        None => Err(UsageError("--track-script: empty command".into())),
        Some(p) if !p.starts_with('/') => {
            Err(UsageError(format!("--track-script {s:?}: give the program's absolute path (it runs without a shell)")))
        }
        Some(_) => Ok(argv),
    }
}

pub(super) fn parse(m: &getopts::Matches, ifname: &str) -> Result<(Spec, Duration), UsageError> {
    let mut spec = Spec { interval: DEFAULT_INTERVAL, timeout: DEFAULT_INTERVAL, fall: 1, rise: 1, ..Spec::default() };
    for s in m.opt_strs("track-process") {
        let p = process_name(&s)?;
        if spec.processes.contains(&p) {
            return Err(UsageError(format!("--track-process {s}: given twice")));
        }
        spec.processes.push(p);
    }
    if spec.processes.len() > MAX_PROCESSES {
        return Err(UsageError(format!("{} --track-process options: at most {MAX_PROCESSES}", spec.processes.len())));
    }
    for s in m.opt_strs("track-script") {
        spec.scripts.push(script(&s)?);
    }
    for s in m.opt_strs("track-interface") {
        let i = parse_ifname("--track-interface", &s)?;
        if i == ifname {
            return Err(UsageError(format!("--track-interface {s}: the carrier of -i {ifname} is always tracked")));
        }
        if spec.interfaces.contains(&i) {
            return Err(UsageError(format!("--track-interface {s}: given twice")));
        }
        spec.interfaces.push(i);
    }
    let interval = secs(m, "track-interval", false)?;
    let timeout = secs(m, "track-timeout", false)?;
    let fall = count(m, "track-fall")?;
    let rise = count(m, "track-rise")?;
    if spec.scripts.is_empty() {
        let given = [("interval", interval.is_some()), ("timeout", timeout.is_some())]
            .into_iter()
            .chain([("fall", fall.is_some()), ("rise", rise.is_some())])
            .find(|(_, g)| *g);
        if let Some((o, _)) = given {
            return Err(UsageError(format!("--track-{o} goes with --track-script (it sets how checks run)")));
        }
    }
    spec.interval = interval.unwrap_or(DEFAULT_INTERVAL);
    spec.timeout = timeout.unwrap_or(spec.interval);
    spec.fall = fall.unwrap_or(1);
    spec.rise = rise.unwrap_or(1);
    let delay = secs(m, "preempt-delay", true)?.unwrap_or(Duration::ZERO);
    if !delay.is_zero() && m.opt_present("s") {
        return Err(UsageError("--preempt-delay: preemption is off (-s); drop one of them".into()));
    }
    Ok((spec, delay))
}

#[cfg(test)]
mod tests {
    use super::super::{Command, parse as parse_all};
    use std::time::Duration;

    fn args(extra: &[&str]) -> Vec<String> {
        ["-i", "eth0", "-v", "51", "10.0.0.100"].iter().chain(extra).map(|s| s.to_string()).collect()
    }

    fn run(extra: &[&str]) -> super::super::Config {
        match parse_all(&args(extra)) {
            Ok(Command::Run(c)) => *c,
            other => panic!("{extra:?}: {other:?}"),
        }
    }

    fn err(extra: &[&str]) -> String {
        match parse_all(&args(extra)) {
            Err(e) => e.0,
            other => panic!("{extra:?}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn trackers_and_their_defaults() {
        let c = run(&[
            "--track-process",
            "haproxy",
            "--track-script",
            "/usr/local/bin/check-web  --port 80",
            "--track-interface",
            "bond0",
            "--track-process",
            "nginx",
        ]);
        assert_eq!(c.track.processes, ["haproxy", "nginx"]);
        assert_eq!(c.track.scripts, [vec!["/usr/local/bin/check-web", "--port", "80"]]);
        assert_eq!(c.track.interfaces, ["bond0"]);
        assert_eq!(
            (c.track.interval, c.track.timeout, c.track.fall, c.track.rise),
            (Duration::from_secs(2), Duration::from_secs(2), 1, 1)
        );
        assert_eq!(c.preempt_delay, Duration::ZERO);
        assert!(run(&[]).track.is_empty());
        let c = run(&[
            "--track-script",
            "/bin/true",
            "--track-interval",
            "0.5",
            "--track-fall",
            "3",
            "--track-rise",
            "2",
            "--preempt-delay",
            "30",
        ]);
        assert_eq!((c.track.interval, c.track.timeout), (Duration::from_millis(500), Duration::from_millis(500)));
        assert_eq!((c.track.fall, c.track.rise, c.preempt_delay), (3, 2, Duration::from_secs(30)));
        let c = run(&["--track-script", "/bin/true", "--track-timeout", "0.25"]);
        assert_eq!(c.track.timeout, Duration::from_millis(250));
    }

    #[test]
    fn bad_tracking_options_are_one_clear_error() {
        for (extra, want) in [
            (&["--track-process", "/usr/sbin/haproxy"][..], "no path"),
            (&["--track-process", "a-very-long-process-name"], "15 bytes"),
            (&["--track-process", "x", "--track-process", "x"], "given twice"),
            (&["--track-script", "check-web"], "absolute path"),
            (&["--track-script", " "], "empty command"),
            (&["--track-interface", "eth0"], "always tracked"),
            (&["--track-interface", "bad/name"], "--track-interface"),
            (&["--track-interval", "1"], "goes with --track-script"),
            (&["--track-script", "/bin/true", "--track-interval", "0"], "from 0.01"),
            (&["--track-script", "/bin/true", "--track-timeout", "nan"], "--track-timeout"),
            (&["--track-script", "/bin/true", "--track-fall", "0"], "from 1 to 255"),
            (&["--preempt-delay", "-1"], "--preempt-delay"),
            (&["--preempt-delay", "5", "-s"], "preemption is off"),
        ] {
            let e = err(extra);
            assert!(e.contains(want), "{extra:?}: {e}");
        }
    }
}
