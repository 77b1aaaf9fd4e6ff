//! The many-LAN part: every trial of one implementation, then the raw figures, the table (first / all VIPs, breakdown) and timelines.

use crate::bed::rundir_kind;
use crate::common::*;
use crate::daemons::Imp;
use crate::lans::{CUT_LAN, LanBed, LanTrial};
use crate::profile::Prof;
use crate::report::{Unit, fmt_val, median};
use crate::run::guarded;
use crate::system::run_ok;
use crate::{PRIO_H2, stopped};
use std::time::{Duration, Instant};

pub struct LanRun {
    pub imp: Imp,
    pub prof: Prof,
    pub lans: usize,
    pub trials: Vec<Result<LanTrial, String>>,
    pub error: Option<String>,
    pub lab_dir: String,
}

impl LanRun {
    pub fn skipped(imp: Imp, prof: Prof, lans: usize) -> LanRun {
        let error = Some("skipped (BENCH_ONLY)".into());
        LanRun { imp, prof, lans, trials: Vec::new(), error, lab_dir: String::new() }
    }
}

pub fn run_lans(imp: Imp, bin: &str, n: usize, prof: Prof, lans: usize) -> LanRun {
    let mut run = LanRun { imp, prof, lans, trials: Vec::new(), error: None, lab_dir: String::new() };
    run.error = guarded(|| -> Result<(), String> {
        let mut bed = LanBed::new(imp, bin, prof, lans)?;
        run.lab_dir = bed.lab.dir.display().to_string();
        let who = format!("{} {} {lans} LANs", imp.name(), prof.tag());
        eprintln!("[{who}] lab {} ({})", bed.lab.name, run.lab_dir);
        bed.settle()?;
        for i in 1..=n {
            if stopped() {
                return Err("interrupted".into());
            }
            let t = Instant::now();
            let r = bed.trial();
            let ms = |v: Option<i64>| v.map(|x| format!("{:.2} ms", x as f64 / 1e3)).unwrap_or("?".into());
            match &r {
                Ok(tr) => eprintln!(
                    "[{who}] link loss #{i}: first VIP {}, all {} ({:.0} s)",
                    ms(tr.first),
                    ms(tr.all),
                    t.elapsed().as_secs_f64()
                ),
                Err(e) => eprintln!("[{who}] link loss #{i}: FAILED: {}", e.lines().next().unwrap_or("")),
            }
            let failed = r.is_err();
            run.trials.push(r);
            if failed {
                recover(&mut bed)?;
            }
        }
        Ok(())
    });
    run
}

fn recover(bed: &mut LanBed) -> Result<(), String> {
    let _ = run_ok(&["ip", "-n", &bed.lab.switch, "link", "set", &format!("h1e{CUT_LAN}"), "up"]);
    for n in 1..=2 {
        if !bed.daemons[n - 1].iter().all(Proc::is_running) {
            for p in bed.host_pids(n) {
                signal(p, libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(500));
            bed.start_host(n)?;
        }
    }
    bed.settle().map_err(|e| format!("cannot recover after a failed trial: {e}"))
}

/// Target of "h2 owns all N VIPs" (issue 12): Skew_Time + 50 ms at 1 s adverts, 60 ms at 10 ms.
pub fn lan_target(prof: Prof) -> Option<(String, f64)> {
    match (prof.version, prof.cs) {
        (2, 100) => {
            let t = prof.skew_us(PRIO_H2) + 50_000;
            Some((format!("≤ skew+50 = {:.1} ms", t as f64 / 1e3), t as f64))
        }
        (3, 1) => Some(("≤ 60 ms".into(), 60e3)),
        _ => None,
    }
}

type Pick = fn(&LanTrial) -> Option<i64>;

fn stat(run: &LanRun, f: Pick) -> Option<(f64, f64, usize, usize)> {
    let vals: Vec<i64> = run.trials.iter().filter_map(|t| t.as_ref().ok()).filter_map(f).collect();
    Some((median(&vals)?, *vals.iter().max()? as f64, vals.len(), run.trials.len()))
}

/// Median and worst in ms, or as plain counts (`count`).
fn cell(s: Option<(f64, f64, usize, usize)>, count: bool) -> String {
    let f = |v: f64| if count { format!("{v:.0}") } else { fmt_val(v, Unit::Ms) };
    match s {
        Some((m, w, k, n)) => {
            let extra = if k < n { format!(" ({k}/{n})") } else { String::new() };
            format!("{:>10} {:>10}{extra}", f(m), f(w))
        }
        None => format!("{:>21}", "none"),
    }
}

pub fn print_lans_report(ours: &LanRun, ka: Option<&LanRun>, trials: usize, bin: &str, load: (&str, &str)) {
    for run in std::iter::once(ours).chain(ka) {
        println!("\n=== raw figures, {} LANs: {} (lab dir {}) ===", run.lans, run.imp.name(), run.lab_dir);
        for (i, t) in run.trials.iter().enumerate() {
            match t {
                Ok(t) => println!(
                    "    #{}: first VIP {}, all {}, handback {}  [{}]",
                    i + 1,
                    t.first.map(|x| fmt_val(x as f64, Unit::Ms)).unwrap_or("?".into()),
                    t.all.map(|x| fmt_val(x as f64, Unit::Ms)).unwrap_or("?".into()),
                    t.handback.map(|x| fmt_val(x as f64, Unit::Ms)).unwrap_or("?".into()),
                    t.raw
                ),
                Err(e) => println!("    #{}: FAILED: {}", i + 1, e.lines().next().unwrap_or("")),
            }
        }
        if let Some(e) = &run.error {
            println!("  run stopped early: {e}");
        }
    }
    let prof = ours.prof;
    let n = ours.lans;
    println!(
        "\n=== many LANs: {n} LANs per host, link loss on LAN B of h1, {trials} trial(s), {}, priorities 110/100 ===",
        prof.label()
    );
    println!(
        "ours: {bin} -F -M {n} (one process per interface), {}; keepalived: vrrp_sync_group of {n} instances, vrrp_version {}, advert_int {}",
        rundir_kind(),
        prof.version,
        prof.interval_arg()
    );
    println!(
        "Skew_Time of h2 {:.2} ms; load average (1/5/15 min) at start: {}; at end: {}; cpus: {}",
        prof.skew_us(PRIO_H2) as f64 / 1e3,
        load.0,
        load.1,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!(
        "{:<46} | {:^21} | {:^21} | {:<22} | ours vs target",
        "link loss on one LAN of h1 →", "ours median  worst", "keepalived med worst", "target (issue 12)"
    );
    println!("{}", "-".repeat(46 + 3 + 21 + 3 + 21 + 3 + 22 + 3 + 16));
    let target = lan_target(prof);
    let rows: [(&str, Pick, bool); 10] = [
        ("h2 owns the first VIP (h2 address event)", |t| t.first, true),
        ("h2 owns all VIPs (h2 address events)", |t| t.all, true),
        ("  breakdown: first prio 0 reaches h2", |t| t.prio0_first, false),
        ("  breakdown: last prio 0 reaches h2", |t| t.prio0_last, false),
        ("  breakdown: h1's last VIP deleted", |t| t.h1_last_del, false),
        ("  CPU of h1's daemons, cut → h2 owns all", |t| Some(t.cpu_us[0]), false),
        ("  CPU of h2's daemons, cut → h2 owns all", |t| Some(t.cpu_us[1]), false),
        ("  run-queue wait, h1 + h2 daemons", |t| Some(t.wait_us[0] + t.wait_us[1]), false),
        ("  wake-ups (count), h1 + h2 daemons", |t| Some(t.wakeups[0] + t.wakeups[1]), false),
        ("handback after link restore (h1 all VIPs)", |t| t.handback, false),
    ];
    for (label, f, with_target) in rows {
        let o = stat(ours, f);
        let count = label.contains("(count)");
        let k = ka.map(|r| cell(stat(r, f), count)).unwrap_or_else(crate::report::no_ka);
        let (tt, verdict) = match (&target, with_target, o) {
            (Some((txt, us)), true, Some((m, w, kk, nn))) => {
                let v = if kk < nn {
                    format!("{kk} of {nn} trials measured")
                } else if w <= *us {
                    "ok".into()
                } else if m <= *us {
                    "worst over target".into()
                } else {
                    "OVER target".into()
                };
                (txt.clone(), v)
            }
            (Some((txt, _)), true, None) => (txt.clone(), "not measured".into()),
            _ => ("–".into(), String::new()),
        };
        println!("{label:<46} | {} | {k} | {tt:<22} | {verdict}", cell(o, count));
    }
    println!(
        "(times from the kernel's notification of the cut; median and worst over the trials; \"(k/n)\": measured in k of n)"
    );
    let all = std::env::var("BENCH_TIMELINE").is_ok_and(|v| v == "1");
    for run in std::iter::once(ours).chain(ka) {
        let worst = run
            .trials
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().ok().and_then(|t| t.all.map(|a| (i, a, t))))
            .max_by_key(|x| x.1);
        if let (true, Some((i, a, t))) = (all, worst) {
            println!(
                "\n--- timeline: {} / {n} LANs / worst trial #{} ({}); t = 0 is the link notification",
                run.imp.name(),
                i + 1,
                fmt_val(a as f64, Unit::Ms)
            );
            print!("{}", t.timeline);
        }
    }
}
