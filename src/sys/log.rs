//! Logging: stderr in the foreground, syslog (ident "vrrpd", facility daemon) once detached.
//! Every line names the interface and the virtual router.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const DEV_LOG: &str = "/dev/log";
/// syslog facility "daemon".
const LOG_DAEMON: u8 = 3;

pub struct Logger {
    prefix: String,
    /// Some: write to the local syslog socket; None: stderr.
    syslog: Option<Mutex<Option<UnixDatagram>>>,
    level: LevelFilter,
}

/// Sends one line to /dev/log as `<PRI>vrrpd[PID]: MSG` (the syslog daemon adds the time). This is
/// what syslog(3) sends, without pulling printf, strftime and locales into a static binary.
/// A syslog daemon restarted meanwhile is reconnected once; without one, lines are dropped, like
/// syslog(3) does without LOG_CONS.
fn send_syslog(sock: &Mutex<Option<UnixDatagram>>, severity: u8, msg: &str) {
    let line = format!("<{}>vrrpd[{}]: {msg}", LOG_DAEMON * 8 + severity, std::process::id());
    let Ok(mut guard) = sock.lock() else { return };
    for _ in 0..2 {
        if guard.is_none() {
            *guard = UnixDatagram::unbound().and_then(|s| s.connect(DEV_LOG).map(|()| s)).ok();
        }
        match guard.as_ref().map(|s| s.send(line.as_bytes())) {
            Some(Ok(_)) => return,
            Some(Err(_)) => *guard = None,
            None => return,
        }
    }
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
        if let Some(sock) = &self.syslog {
            let severity = match r.level() {
                Level::Error => 3,
                Level::Warn => 4,
                Level::Info => 5,
                Level::Debug | Level::Trace => 7,
            };
            send_syslog(sock, severity, &msg.replace(['\0', '\n'], " "));
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
    let syslog = syslog.then(|| Mutex::new(None));
    if log::set_boxed_logger(Box::new(Logger { prefix, syslog, level })).is_ok() {
        log::set_max_level(level);
    }
}
