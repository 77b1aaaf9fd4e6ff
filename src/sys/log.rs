//! Logging: stderr in the foreground, syslog (ident "vrrpd", facility daemon) once detached.
//! Every line names the interface and the virtual router.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::ffi::CString;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Logger {
    prefix: String,
    syslog: bool,
    level: LevelFilter,
}

fn utc_hms() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let s = d.as_secs() % 86_400;
    format!("{:02}:{:02}:{:02}.{:03}", s / 3600, s / 60 % 60, s % 60, d.subsec_millis())
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let msg = format!("{}{}", self.prefix, r.args());
        if self.syslog {
            let prio = match r.level() {
                Level::Error => libc::LOG_ERR,
                Level::Warn => libc::LOG_WARNING,
                Level::Info => libc::LOG_NOTICE,
                Level::Debug | Level::Trace => libc::LOG_DEBUG,
            };
            if let Ok(c) = CString::new(msg.replace('\0', " ")) {
                // SAFETY: constant format string and a valid C string argument.
                unsafe { libc::syslog(prio, c"%s".as_ptr(), c.as_ptr()) };
            }
        } else {
            let lvl = match r.level() {
                Level::Error => "error",
                Level::Warn => "warn",
                Level::Info => "info",
                Level::Debug => "debug",
                Level::Trace => "trace",
            };
            let _ = writeln!(std::io::stderr().lock(), "{} vrrpd[{}] {lvl}: {msg}", utc_hms(), std::process::id());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger. `VRRPD_LOG` (error, warn, info, debug, trace) sets the level; info by default.
pub fn init(prefix: String, syslog: bool) {
    let level = match std::env::var("VRRPD_LOG").unwrap_or_default().to_ascii_lowercase().as_str() {
        "error" => LevelFilter::Error,
        "warn" => LevelFilter::Warn,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => LevelFilter::Info,
    };
    if syslog {
        // SAFETY: the ident is a 'static C string, as openlog requires.
        unsafe { libc::openlog(c"vrrpd".as_ptr(), libc::LOG_PID | libc::LOG_NDELAY, libc::LOG_DAEMON) };
    }
    if log::set_boxed_logger(Box::new(Logger { prefix, syslog, level })).is_ok() {
        log::set_max_level(level);
    }
}
