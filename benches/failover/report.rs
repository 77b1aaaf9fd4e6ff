//! The report: raw per-trial figures, the table (median / worst, ratio keepalived/ours, targets), timelines.

use crate::bed::rundir_kind;
use crate::daemons::Imp;
use crate::measure::Mem;
use crate::run::Run;
use crate::scenarios::{Scen, Trial};
use crate::steady_report::{print_steady, steady_rows};
use std::fmt::Write as _;

pub fn median(v: &[i64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let m = s.len() / 2;
    Some(if s.len() % 2 == 1 { s[m] as f64 } else { (s[m - 1] + s[m]) as f64 / 2.0 })
}

#[derive(Clone, Copy)]
pub enum Unit {
    S,
    Ms,
}

pub fn fmt_val(v: f64, u: Unit) -> String {
    match u {
        Unit::S => format!("{:.3} s", v / 1e6),
        Unit::Ms => format!("{:.2} ms", v / 1e3),
    }
}

#[derive(Clone, Copy)]
pub enum Metric {
    Takeover,
    Release,
    Handback,
    /// Host death: from the first Master_Down_Interval expiry.
    AfterExpiry,
}

impl Metric {
    /// This metric's figure in a trial (µs).
    pub fn of(self, t: &Trial) -> Option<i64> {
        match self {
            Metric::Takeover => t.takeover,
            Metric::Release => t.release,
            Metric::Handback => t.handback,
            Metric::AfterExpiry => t.after_expiry,
        }
    }
}

/// (median, worst, present, total) of a metric over a run's trials of a scenario.
pub fn stats(run: &Run, sc: Scen, m: Metric) -> Option<(f64, f64, usize, usize)> {
    let trials = run.trials.get(&sc)?;
    let vals: Vec<i64> = trials.iter().filter_map(|t| t.as_ref().ok()).filter_map(|t| m.of(t)).collect();
    let med = median(&vals)?;
    Some((med, *vals.iter().max()? as f64, vals.len(), trials.len()))
}

pub struct Row {
    pub label: String,
    pub ours: String,
    pub ka: String,
    pub ratio: String,
    pub target: String,
    pub verdict: String,
}

/// keepalived's cell when it did not run: left out by `BENCH_ONLY`, or not installed.
pub fn no_ka() -> String {
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    format!("{:>21}", if !only.is_empty() && only != "keepalived" { "skipped (BENCH_ONLY)" } else { "not installed" })
}

pub fn cell(s: Option<(f64, f64, usize, usize)>, u: Unit, none: &str) -> String {
    match s {
        Some((med, worst, k, n)) => {
            let mut c = format!("{:>10} {:>10}", fmt_val(med, u), fmt_val(worst, u));
            if k < n {
                let _ = write!(c, " ({k}/{n})");
            }
            c
        }
        None => format!("{none:>21}"),
    }
}

pub fn ratio(o: Option<(f64, f64, usize, usize)>, k: Option<(f64, f64, usize, usize)>) -> String {
    match (o, k) {
        (Some((om, ow, ..)), Some((km, kw, ..))) if om > 0.0 && ow > 0.0 => {
            format!("{:>7.1}× {:>6.1}×", km / om, kw / ow)
        }
        _ => format!("{:>16}", "–"),
    }
}

pub fn verdict(o: Option<(f64, f64, usize, usize)>, target_us: Option<f64>) -> String {
    match (o, target_us) {
        (Some((med, worst, k, n)), Some(t)) => {
            if k < n {
                format!("{} of {n} trials measured", k)
            } else if worst <= t {
                "ok".into()
            } else if med <= t {
                "worst over target".into()
            } else {
                "OVER target".into()
            }
        }
        (None, Some(_)) => "not measured".into(),
        _ => String::new(),
    }
}

pub fn print_report(ours: &Run, ka: Option<&Run>, trials: usize, bin: &str, load_start: &str, load_end: &str) {
    // ---- raw figures
    for run in std::iter::once(ours).chain(ka) {
        println!("\n=== raw figures: {} (lab dir {}) ===", run.imp.name(), run.lab_dir);
        for (sc, v) in &run.trials {
            println!("  {}:", sc.title());
            for (i, t) in v.iter().enumerate() {
                match t {
                    Ok(t) => println!(
                        "    #{}: takeover {}{}  [{}]",
                        i + 1,
                        t.takeover
                            .map(|x| fmt_val(x as f64, if run.prof.version == 2 { Unit::S } else { Unit::Ms }))
                            .unwrap_or("?".into()),
                        t.release
                            .map(|x| format!(", local release {}", fmt_val(x as f64, Unit::Ms)))
                            .unwrap_or_default(),
                        t.raw
                    ),
                    Err(e) => println!("    #{}: FAILED: {}", i + 1, e.lines().next().unwrap_or("")),
                }
            }
        }
        for (when, m) in
            [("after the first settle", &run.mem), ("after all trials (h1 restarted, h2 not)", &run.mem_end)]
        {
            let Some(m) = m else { continue };
            println!("  memory {when} (VmRSS / PSS):");
            for (n, pid, name, rss, pss) in &m.procs {
                println!(
                    "    h{n} pid {pid:<8} {name:<12} RSS {:>8.2} MiB  PSS {:>8.2} MiB",
                    *rss as f64 / 1024.0,
                    *pss as f64 / 1024.0
                );
            }
        }
        print_steady(run);
        if let Some(e) = &run.error {
            println!("  run stopped early: {e}");
        }
    }

    // ---- table
    let none_ka = ka.is_none();
    let s = |run: Option<&Run>, sc, m| run.and_then(|r| stats(r, sc, m));
    let mut rows = Vec::new();
    let prof = ours.prof;
    let u = if prof.version == 2 { Unit::S } else { Unit::Ms };
    let mut add = |label: &str, sc: Scen, m: Metric, ka_na: bool| {
        let (target, target_us) = match prof.target(sc, m) {
            Some((t, us)) => (t, Some(us)),
            None => ("–".to_string(), None),
        };
        let o = s(Some(ours), sc, m);
        let k = if ka_na { None } else { s(ka, sc, m) };
        let ka_cell = if none_ka {
            no_ka()
        } else if ka_na {
            format!("{:>21}", "n/a")
        } else {
            cell(k, u, "none")
        };
        rows.push(Row {
            label: label.to_string(),
            ours: cell(o, u, "none"),
            ka: ka_cell,
            ratio: ratio(o, k),
            target,
            verdict: verdict(o, target_us),
        });
    };
    use Metric::*;
    if prof.track {
        add("6 h1's tracked service dies → h2 owns both", Scen::Service, Takeover, false);
        add("  handback after the service is back", Scen::Service, Handback, false);
        add("  service death → prio 0 on A and B", Scen::Service, Release, false);
    } else {
        add("1 link loss → h2 owns both VIPs", Scen::Link, Takeover, false);
        add("  handback after link restore", Scen::Link, Handback, false);
        add("2 SIGTERM h1 → h2 owns both", Scen::Term, Takeover, false);
        add("  handback after restart", Scen::Term, Handback, false);
        add("3 SIGKILL h1 eth1 member → h2 both", Scen::Kill1, Takeover, true);
        add("  handback after member restart", Scen::Kill1, Handback, true);
        add("4 SIGKILL all of h1 → h2 owns both", Scen::KillAll, Takeover, false);
        add("  from the first Master_Down expiry", Scen::KillAll, AfterExpiry, false);
        add("  handback after restart", Scen::KillAll, Handback, false);
        add("5 local release: link notif. → prio 0 on A", Scen::Link, Release, false);
        add("  SIGTERM → prio 0 on A and B", Scen::Term, Release, false);
        add("  SIGKILL eth1 member → prio 0 on A", Scen::Kill1, Release, true);
    }
    if prof.version == 3 && !prof.track {
        rows.extend(steady_rows(ours, ka));
    }

    // Memory: h1's daemons after the first settle.
    // Memory: the largest figure over both hosts and both snapshots (after the first settle, after
    // all trials): a process, and a host's processes summed.
    let memstats = |run: Option<&Run>| -> Option<(f64, f64, f64)> {
        let run = run?;
        let snaps: Vec<&Mem> = [&run.mem, &run.mem_end].into_iter().flatten().collect();
        let (mut max_rss, mut host_rss, mut host_pss) = (0u64, 0u64, 0u64);
        for m in snaps {
            for n in 1..=2 {
                let procs: Vec<_> = m.procs.iter().filter(|p| p.0 == n).collect();
                max_rss = max_rss.max(procs.iter().map(|p| p.3).max().unwrap_or(0));
                host_rss = host_rss.max(procs.iter().map(|p| p.3).sum());
                host_pss = host_pss.max(procs.iter().map(|p| p.4).sum());
            }
        }
        (max_rss > 0).then_some((max_rss as f64, host_rss as f64, host_pss as f64))
    };
    let (om, km) = (memstats(Some(ours)), memstats(ka));
    let mib = |v: Option<f64>| v.map(|x| format!("{:.2} MiB", x / 1024.0)).unwrap_or("?".into());
    let mut mem_row = |label: &str, f: fn((f64, f64, f64)) -> f64, target: &str, target_kb: Option<f64>| {
        let o = om.map(f);
        let k = km.map(f);
        rows.push(Row {
            label: label.to_string(),
            ours: format!("{:>21}", mib(o)),
            ka: if none_ka { no_ka() } else { format!("{:>21}", mib(k)) },
            ratio: match (o, k) {
                (Some(o), Some(k)) if o > 0.0 => format!("{:>16}", format!("{:.1}×", k / o)),
                _ => format!("{:>16}", "–"),
            },
            target: target.to_string(),
            verdict: match (o, target_kb) {
                (Some(o), Some(t)) => {
                    if o <= t {
                        "ok".into()
                    } else {
                        "OVER target".into()
                    }
                }
                _ => String::new(),
            },
        });
    };
    mem_row("M RSS per process (largest seen)", |m| m.0, "≤ 2 MiB", Some(2048.0));
    mem_row("  RSS whole host (all its processes)", |m| m.1, "≤ 4 MB (as MiB)", Some(4096.0));
    mem_row("  PSS whole host (all its processes)", |m| m.2, "–", None);

    println!(
        "\n=== failover benchmark: {trials} trial(s) per scenario, {}, priorities 110/100, 2 hosts × 2 LANs ===",
        prof.label()
    );
    let v3 = if prof.version == 3 { format!(" --vrrp-version 3 -d {}", prof.interval_arg()) } else { String::new() };
    let ka_v = format!("vrrp_version {}, advert_int {}", prof.version, prof.interval_arg());
    println!(
        "ours: {bin} -F -M 2{v3} (one process per interface), {}; keepalived: one process tree per host, vrrp_sync_group of 2 instances, {ka_v}",
        rundir_kind()
    );
    println!(
        "load average (1/5/15 min) at start: {load_start}; at end: {load_end}; cpus: {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!(
        "{:<44} | {:^21} | {:^21} | {:^16} | {:<20} | ours vs target",
        "scenario", "ours median  worst", "keepalived med worst", "ka/ours med worst", "target (README.md)",
    );
    println!("{}", "-".repeat(44 + 3 + 21 + 3 + 21 + 3 + 16 + 3 + 20 + 3 + 16));
    for r in rows {
        println!("{:<44} | {} | {} | {} | {:<20} | {}", r.label, r.ours, r.ka, r.ratio, r.target, r.verdict);
    }
    println!(
        "(times: median and worst over the trials; \"(k/n)\": measured in k of n trials; memory: largest over h1/h2, after the first settle and after all trials)"
    );

    // ---- timelines
    let all = std::env::var("BENCH_TIMELINE").is_ok_and(|v| v == "1");
    for run in std::iter::once(ours).chain(ka) {
        for (sc, v) in &run.trials {
            let get = |t: &Trial, m: Metric| m.of(t);
            for m in [Metric::Takeover, Metric::Release] {
                let limit = prof.target(*sc, m).map(|x| x.1);
                let Some((i, worst)) = v
                    .iter()
                    .enumerate()
                    .filter_map(|(i, t)| t.as_ref().ok().and_then(|t| get(t, m)).map(|x| (i, x)))
                    .max_by_key(|x| x.1)
                else {
                    continue;
                };
                let over = run.imp == Imp::Ours && limit.is_some_and(|l| worst as f64 > l);
                if over || (all && matches!(m, Metric::Takeover)) {
                    let what = if matches!(m, Metric::Takeover) { "takeover" } else { "local release" };
                    println!(
                        "\n--- timeline: {} / {} / worst {what} (trial #{}, {}){}; t = 0 is the event",
                        run.imp.name(),
                        sc.title(),
                        i + 1,
                        fmt_val(worst as f64, if matches!(m, Metric::Release) { Unit::Ms } else { u }),
                        if over { " — OVER target" } else { "" }
                    );
                    if let Ok(t) = &v[i] {
                        print!("{}", t.timeline);
                    }
                }
            }
        }
    }
}
