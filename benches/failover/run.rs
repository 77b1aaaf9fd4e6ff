//! Running one implementation through every scenario's trials, and recovering after a failed trial.

use crate::alone::own_cpu;
use crate::bed::Bed;
use crate::common::*;
use crate::daemons::Imp;
use crate::measure::Mem;
use crate::profile::{Prof, window_secs};
use crate::scenarios::{Scen, Trial};
use crate::steady::{CpuShare, Steady};
use crate::stopped;
use crate::system::run_ok;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub struct Run {
    pub imp: Imp,
    pub prof: Prof,
    pub trials: BTreeMap<Scen, Vec<Result<Trial, String>>>,
    pub mem: Option<Mem>,
    pub mem_end: Option<Mem>,
    /// v3 only: the steady-state window (largest advert gap, CPU), after the first settle.
    pub steady: Option<Result<Steady, String>>,
    /// v3 at 10 ms: the master's own CPU on legs that drop every frame (`alone`), per process.
    pub alone: Option<Result<Vec<CpuShare>, String>>,
    pub error: Option<String>,
    pub lab_dir: String,
}

impl Run {
    pub fn skipped(imp: Imp, prof: Prof, why: &str) -> Run {
        let mut run = Run::new(imp, prof);
        run.error = Some(why.into());
        run
    }
    fn new(imp: Imp, prof: Prof) -> Run {
        Run {
            imp,
            prof,
            trials: BTreeMap::new(),
            mem: None,
            mem_end: None,
            steady: None,
            alone: None,
            error: None,
            lab_dir: String::new(),
        }
    }
}

pub fn run_imp(imp: Imp, bin: &str, n: usize, prof: Prof) -> Run {
    let mut run = Run::new(imp, prof);
    run.error = guarded(|| -> Result<(), String> {
        let who = format!("{} {}", imp.name(), prof.tag());
        if prof.cpu_target().is_some() && !prof.track {
            // Before the lab, with nothing else running.
            let secs = window_secs();
            eprintln!("[{who}] master alone, its adverts dropped at the switch-side legs, {secs} s (its own CPU)");
            let a = guarded_value(|| own_cpu(imp, bin, prof, secs));
            if let Err(e) = &a {
                eprintln!("[{who}] alone window FAILED: {e}");
            }
            run.alone = Some(a);
        }
        let mut bed = Bed::new(imp, bin, prof)?;
        run.lab_dir = bed.lab.dir.display().to_string();
        eprintln!("[{who}] lab {} ({})", bed.lab.name, run.lab_dir);
        bed.settle()?;
        run.mem = Some(bed.memory());
        if prof.version == 3 && !prof.track {
            let secs = window_secs();
            eprintln!("[{who}] steady window {secs} s (largest advert gap, CPU)");
            let st = bed.steady(secs);
            if let Err(e) = &st {
                eprintln!("[{who}] steady window FAILED: {e}");
            }
            run.steady = Some(st);
        }
        let scenarios: &[Scen] = if prof.track { &[Scen::Service] } else { &Scen::ALL };
        for &sc in scenarios {
            if sc == Scen::Kill1 && imp == Imp::Keepalived {
                continue;
            }
            for i in 1..=n {
                if stopped() {
                    return Err("interrupted".into());
                }
                let t = Instant::now();
                let r = bed.trial(sc);
                match &r {
                    Ok(tr) => eprintln!(
                        "[{who}] {} #{i}: takeover {} ({:.0} s)",
                        sc.title(),
                        tr.takeover.map(|t| format!("{:.2} ms", t as f64 / 1e3)).unwrap_or("?".into()),
                        t.elapsed().as_secs_f64()
                    ),
                    Err(e) => eprintln!("[{who}] {} #{i}: FAILED: {e}", sc.title()),
                }
                let failed = r.is_err();
                run.trials.entry(sc).or_default().push(r);
                if failed {
                    // Try to get back to a settled state; give up on this implementation otherwise.
                    if let Err(e) = recover(&mut bed) {
                        return Err(format!("cannot recover after a failed trial: {e}"));
                    }
                }
            }
        }
        bed.settle()?;
        run.mem_end = Some(bed.memory());
        Ok(())
    });
    run
}

/// Runs one implementation's part: its error, or the text of its panic (a lab that broke), so that
/// the other implementation is still measured.
pub fn guarded(f: impl FnOnce() -> Result<(), String>) -> Option<String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Some(format!("panic: {msg}"))
        }
    }
}

/// Like [`guarded`], for a part that gives a value: a panic (a lab that broke) becomes its error.
fn guarded_value<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    let mut out = None;
    match guarded(|| f().map(|v| out = Some(v))) {
        Some(e) => Err(e),
        None => out.ok_or_else(|| "no value".to_string()),
    }
}

/// After a failed trial: link up, every daemon running, then a settled state.
pub fn recover(bed: &mut Bed) -> Result<(), String> {
    let _ = run_ok(&["ip", "-n", &bed.lab.switch, "link", "set", "h1e1", "up"]);
    for n in 1..=2 {
        if !bed.daemons[n - 1].iter().all(Proc::is_running) {
            let pids = bed.host_pids(n);
            for p in &pids {
                signal(*p, libc::SIGKILL);
            }
            bed.wait_procs_exit(&pids, Duration::from_secs(10))?;
            bed.start_host(n);
        }
    }
    bed.settle()
}
