//! The dual-stack part: every trial of one implementation, then the raw figures, the table (IPv6 / IPv4 VIPs owned) and timelines.

use crate::bed::rundir_kind;
use crate::common::*;
use crate::daemons::Imp;
use crate::report::{Metric, Unit, cell, fmt_val, median, ratio, verdict};
use crate::run::guarded;
use crate::scenarios::Scen;
use crate::v6::{PROF, V6Bed, V6Trial};
use crate::{PRIO_H2, stopped};
use std::time::Instant;

pub struct V6Run {
    pub imp: Imp,
    pub trials: Vec<Result<V6Trial, String>>,
    pub error: Option<String>,
    pub lab_dir: String,
}

impl V6Run {
    pub fn skipped(imp: Imp) -> V6Run {
        V6Run { imp, trials: Vec::new(), error: Some("skipped (BENCH_ONLY)".into()), lab_dir: String::new() }
    }
}

pub fn run_v6(imp: Imp, bin: &str, n: usize) -> V6Run {
    let mut run = V6Run { imp, trials: Vec::new(), error: None, lab_dir: String::new() };
    run.error = guarded(|| -> Result<(), String> {
        let mut bed = V6Bed::new(imp, bin)?;
        run.lab_dir = bed.lab.dir.display().to_string();
        let who = format!("{} {} dual-stack", imp.name(), PROF.tag());
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
                    "[{who}] host death #{i}: IPv6 VIPs {}, IPv4 VIPs {} ({:.0} s)",
                    ms(tr.v6),
                    ms(tr.v4),
                    t.elapsed().as_secs_f64()
                ),
                Err(e) => eprintln!("[{who}] host death #{i}: FAILED: {}", e.lines().next().unwrap_or("")),
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

/// After a failed trial: every host's daemons running again (what is left of them SIGKILLed first), settled.
fn recover(bed: &mut V6Bed) -> Result<(), String> {
    for n in 1..=2 {
        if !bed.daemons[n - 1].iter().all(Proc::is_running) {
            let pids = bed.host_pids(n);
            for p in &pids {
                signal(*p, libc::SIGKILL);
            }
            bed.wait_procs_exit(&pids, std::time::Duration::from_secs(10))?;
            bed.start_host(n)?;
        }
    }
    bed.settle().map_err(|e| format!("cannot recover after a failed trial: {e}"))
}

type Pick = fn(&V6Trial) -> Option<i64>;

fn stat(run: &V6Run, f: Pick) -> Option<(f64, f64, usize, usize)> {
    let vals: Vec<i64> = run.trials.iter().filter_map(|t| t.as_ref().ok()).filter_map(f).collect();
    Some((median(&vals)?, *vals.iter().max()? as f64, vals.len(), run.trials.len()))
}

pub fn print_v6_report(ours: &V6Run, ka: Option<&V6Run>, trials: usize, bin: &str, load: (&str, &str)) {
    let ms = |v: Option<i64>| v.map(|x| fmt_val(x as f64, Unit::Ms)).unwrap_or("?".into());
    for run in std::iter::once(ours).chain(ka) {
        println!("\n=== raw figures, dual-stack host death: {} (lab dir {}) ===", run.imp.name(), run.lab_dir);
        for (i, t) in run.trials.iter().enumerate() {
            match t {
                Ok(t) => println!(
                    "    #{}: IPv6 VIPs {}, IPv4 VIPs {}, handback {}  [{}]",
                    i + 1,
                    ms(t.v6),
                    ms(t.v4),
                    ms(t.handback),
                    t.raw
                ),
                Err(e) => println!("    #{}: FAILED: {}", i + 1, e.lines().next().unwrap_or("")),
            }
        }
        if let Some(e) = &run.error {
            println!("  run stopped early: {e}");
        }
    }
    println!(
        "\n=== dual-stack: SIGKILL of every daemon process of h1, {trials} trial(s), {}, priorities 110/100 ===",
        PROF.label()
    );
    println!(
        "ours: {bin} -F -M 2 --vrrp-version 3 -d {int} (per interface: one IPv4 and one IPv6/64 VIP), {}; keepalived: \
         vrrp_sync_group of 4 instances (IPv4 and IPv6 of VRIDs 51, 52), vrrp_version 3, advert_int {int}",
        rundir_kind(),
        int = PROF.interval_arg()
    );
    println!(
        "Skew_Time of h2 {:.2} ms; load average (1/5/15 min) at start: {}; at end: {}; cpus: {}",
        PROF.skew_us(PRIO_H2) as f64 / 1e3,
        load.0,
        load.1,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let target = PROF.target(Scen::KillAll, Metric::Takeover);
    println!(
        "{:<46} | {:^21} | {:^21} | {:^16} | {:<22} | ours vs limit",
        "host death (kill of h1) →", "ours median  worst", "keepalived med worst", "ka/ours med wst", "protocol limit"
    );
    println!("{}", "-".repeat(46 + 3 + 21 + 3 + 21 + 3 + 16 + 3 + 22 + 3 + 14));
    let rows: [(&str, Pick, bool); 5] = [
        ("h2 owns every IPv6 VIP (h2 address events)", |t| t.v6, true),
        ("h2 owns every IPv4 VIP (h2 address events)", |t| t.v4, true),
        ("  wire: h2's later first NA (IPv6 VIPs)", |t| t.na, false),
        ("  wire: h2's later first GARP (IPv4 VIPs)", |t| t.garp, false),
        ("handback after h1 restarts (all 4 VIPs)", |t| t.handback, false),
    ];
    for (label, f, with_target) in rows {
        let o = stat(ours, f);
        let k = ka.map(|r| stat(r, f));
        let kc = k.map(|k| cell(k, Unit::Ms, "none")).unwrap_or_else(crate::report::no_ka);
        let (tt, v) = match (&target, with_target) {
            (Some((txt, us)), true) => (txt.clone(), verdict(o, Some(*us))),
            _ => ("–".into(), String::new()),
        };
        println!("{label:<46} | {} | {kc} | {} | {tt:<22} | {v}", cell(o, Unit::Ms, "none"), ratio(o, k.flatten()));
    }
    println!(
        "(times from just before kill(2); median and worst over the trials; \"(k/n)\": measured in k of n; the limit is \
         RFC 5798's Master_Down_Interval 3 × 10 ms + Skew_Time)"
    );
    let all = std::env::var("BENCH_TIMELINE").is_ok_and(|v| v == "1");
    for run in std::iter::once(ours).chain(ka) {
        let worst = run
            .trials
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().ok().and_then(|t| t.v6.map(|a| (i, a, t))))
            .max_by_key(|x| x.1);
        if let (true, Some((i, a, t))) = (all, worst) {
            println!(
                "\n--- timeline: {} / dual-stack / worst trial #{} (IPv6 VIPs {}); t = 0 is kill()",
                run.imp.name(),
                i + 1,
                fmt_val(a as f64, Unit::Ms)
            );
            print!("{}", t.timeline);
        }
    }
}
