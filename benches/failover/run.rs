//! Running one implementation through every scenario's trials, and recovering after a failed trial.

use crate::bed::Bed;
use crate::common::*;
use crate::daemons::Imp;
use crate::measure::Mem;
use crate::scenarios::{Scen, Trial};
use crate::stopped;
use crate::system::run_ok;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub struct Run {
    pub imp: Imp,
    pub trials: BTreeMap<Scen, Vec<Result<Trial, String>>>,
    pub mem: Option<Mem>,
    pub mem_end: Option<Mem>,
    pub error: Option<String>,
    pub lab_dir: String,
}

pub fn run_imp(imp: Imp, bin: &str, n: usize) -> Run {
    let mut run = Run { imp, trials: BTreeMap::new(), mem: None, mem_end: None, error: None, lab_dir: String::new() };
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), String> {
        let mut bed = Bed::new(imp, bin)?;
        run.lab_dir = bed.lab.dir.display().to_string();
        eprintln!("[{}] lab {} ({})", imp.name(), bed.lab.name, run.lab_dir);
        bed.settle()?;
        run.mem = Some(bed.memory());
        for sc in Scen::ALL {
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
                        "[{}] {} #{i}: takeover {} ({:.0} s)",
                        imp.name(),
                        sc.title(),
                        tr.takeover.map(|t| format!("{:.3} s", t as f64 / 1e6)).unwrap_or("?".into()),
                        t.elapsed().as_secs_f64()
                    ),
                    Err(e) => eprintln!("[{}] {} #{i}: FAILED: {e}", imp.name(), sc.title()),
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
    }));
    match res {
        Ok(Ok(())) => {}
        Ok(Err(e)) => run.error = Some(e),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            run.error = Some(format!("panic: {msg}"));
        }
    }
    run
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
