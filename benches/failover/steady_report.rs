//! The report of the v3 steady-state window: raw per-LAN gaps and per-process CPU, and their table rows.

use crate::report::Row;
use crate::run::Run;
use crate::steady::Steady;

fn steady(run: Option<&Run>) -> Option<&Steady> {
    run?.steady.as_ref()?.as_ref().ok()
}

/// Raw figures of a run's window (nothing for the v2 part).
pub fn print_steady(run: &Run) {
    let Some(st) = &run.steady else { return };
    match st {
        Err(e) => println!("  steady window FAILED: {}", e.lines().next().unwrap_or("")),
        Ok(st) => {
            println!("  steady window {:.1} s, no event:", st.window_s);
            for (lan, (n, gap, mean, peer)) in st.lans.iter().enumerate() {
                println!(
                    "    LAN {}: {n} adverts of h1, mean gap {:.2} ms, largest {:.2} ms; adverts of h2 in the window: {peer}",
                    ['A', 'B'][lan],
                    mean / 1e3,
                    *gap as f64 / 1e3
                );
            }
            for (n, pid, name, pct) in &st.cpu {
                println!("    h{n} pid {pid:<8} {name:<12} CPU {pct:>6.3} % of a core ({:.3} s per minute)", pct * 0.6);
            }
        }
    }
    match &run.alone {
        None => {}
        Some(Err(e)) => println!("  master alone FAILED: {}", e.lines().next().unwrap_or("")),
        Some(Ok(cpu)) => {
            println!(
                "  master alone, adverts dropped at the far end of its veth legs (no bridge, peer or capture work charged to it):"
            );
            for (_, pid, name, pct) in cpu {
                println!("    h1 pid {pid:<8} {name:<12} CPU {pct:>6.3} % of a core ({:.3} s per minute)", pct * 0.6);
            }
        }
    }
}

/// The largest CPU share of the master's processes alone (adverts dropped at the far end).
fn alone_max(run: Option<&Run>) -> Option<f64> {
    run?.alone.as_ref()?.as_ref().ok()?.iter().map(|c| c.3).reduce(f64::max)
}

fn verdict(o: Option<f64>, t: Option<f64>) -> String {
    match (o, t) {
        (Some(o), Some(t)) if o <= t => "ok".into(),
        (Some(_), Some(_)) => "OVER target".into(),
        (None, Some(_)) => "not measured".into(),
        _ => String::new(),
    }
}

/// Table rows: the largest advert gap (h1, both LANs) and the largest CPU share per process (h1, h2).
pub fn steady_rows(ours: &Run, ka: Option<&Run>) -> Vec<Row> {
    let prof = ours.prof;
    let (so, sk) = (steady(Some(ours)), steady(ka));
    let window = so.or(sk).map(|s| format!("{:.0} s", s.window_s)).unwrap_or("?".into());
    let row =
        |label: String, o: Option<f64>, k: Option<f64>, fmt: &dyn Fn(f64) -> String, t: Option<(String, f64)>| Row {
            label,
            ours: format!("{:>21}", o.map(fmt).unwrap_or("?".into())),
            ka: if ka.is_none() { crate::report::no_ka() } else { format!("{:>21}", k.map(fmt).unwrap_or("?".into())) },
            ratio: match (o, k) {
                (Some(o), Some(k)) if o > 0.0 => format!("{:>16}", format!("{:.1}×", k / o)),
                _ => format!("{:>16}", "–"),
            },
            verdict: verdict(o, t.as_ref().map(|t| t.1)),
            target: t.map(|t| t.0).unwrap_or("–".into()),
        };
    let ms = |us: f64| format!("{:.2} ms", us / 1e3);
    let pct = |p: f64| format!("{p:.3} %");
    let gap = |s: Option<&Steady>| s.and_then(Steady::largest_gap).map(|g| g as f64);
    let mut rows = vec![
        row(format!("G largest advert gap of h1 over {window}"), gap(so), gap(sk), &ms, prof.gap_target()),
        row(
            "C CPU per process, master h1 (largest)".into(),
            so.and_then(|s| s.cpu_max(1)),
            sk.and_then(|s| s.cpu_max(1)),
            &pct,
            prof.cpu_target(),
        ),
    ];
    // Measured where a CPU target is set (10 ms), before the lab.
    if ours.alone.is_some() {
        rows.push(row(
            "  CPU per process, master alone (no peer)".into(),
            alone_max(Some(ours)),
            alone_max(ka),
            &pct,
            prof.cpu_target(),
        ));
    }
    rows.push(row(
        "  CPU per process, backup h2 (largest)".into(),
        so.and_then(|s| s.cpu_max(2)),
        sk.and_then(|s| s.cpu_max(2)),
        &pct,
        prof.cpu_target(),
    ));
    rows
}
