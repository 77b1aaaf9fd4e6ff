//! The run directory shared by the vrrpd processes of one host:
//! - `vrrpd_<ifname>_<vrid>.pid`: pid file, locked for the life of the process;
//! - `vrrpd_<ifname>_<vrid>.sock`: the member's control socket (several vrids may share an interface);
//! - `state`: one line per member (see [`Member`]), rewritten atomically (temp file + rename) under the
//!   lock `state.lock`; it also records each interface's original MAC before the first change, so that a
//!   restart after a crash can restore it.
//! - `drain`: present while `atropos --backup` holds the host in BACKUP.
//!
//! The directory is trusted only when root owns it and nobody else can write it; files in it are opened
//! without following links and without blocking, and only as regular files: anything else (a planted
//! link, a FIFO) is an error for the caller to report, and the atomic rewrites replace it.

use crate::arp::{fmt_mac, parse_mac};
use crate::cli::Vip;
use crate::profile::{Interval, Version};
use crate::sys::proc::flock;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state";
pub const DRAIN_FILE: &str = "drain";
const LOCK_FILE: &str = "state.lock";

/// A member of the host: one virtual router on one interface.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId {
    pub ifname: String,
    pub vrid: u8,
}

impl MemberId {
    pub fn new(ifname: &str, vrid: u8) -> MemberId {
        MemberId { ifname: ifname.to_string(), vrid }
    }
    /// `eth0_51`: the part of the run-dir file names that names the member.
    pub fn stem(&self) -> String {
        format!("{}_{}", self.ifname, self.vrid)
    }
    /// Parses a [`MemberId::stem`] (interface names may hold '_': the vrid is after the last one).
    pub fn from_stem(s: &str) -> Option<MemberId> {
        let (ifname, vrid) = s.rsplit_once('_')?;
        let vrid: u8 = vrid.parse().ok().filter(|v| *v > 0)?;
        (!ifname.is_empty() && ifname.len() <= 15).then(|| MemberId::new(ifname, vrid))
    }
}

impl std::fmt::Display for MemberId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} vrid {}", self.ifname, self.vrid)
    }
}

pub fn pid_path(dir: &Path, id: &MemberId) -> PathBuf {
    dir.join(format!("vrrpd_{}.pid", id.stem()))
}

pub fn sock_path(dir: &Path, id: &MemberId) -> PathBuf {
    dir.join(format!("vrrpd_{}.sock", id.stem()))
}

/// Creates the drain file (as `atropos --backup` does); `who` says who asked.
pub fn set_drain(dir: &Path, who: &str, unix_ms: u64) -> io::Result<()> {
    replace_file(dir, DRAIN_FILE, &format!("drained by {who} at {unix_ms} (unix ms)\n"), 0o644)
}

/// Why the run dir cannot be trusted (`None` when root owns it and nobody else can write it). Its
/// owner could plant links where root writes, drain the host or pose as a member.
pub fn distrust(dir: &Path, md: &fs::Metadata) -> Option<String> {
    let mode = md.permissions().mode();
    if md.uid() != 0 {
        return Some(format!(
            "-f {}: the run directory is owned by uid {}, not root: refused (its owner could plant links \
             where vrrpd writes, drain the host or pose as a member)",
            dir.display(),
            md.uid()
        ));
    }
    if mode & 0o022 != 0 {
        return Some(format!(
            "-f {}: the run directory is writable by group or others (mode {:o}): refused; use a directory \
             only root can write (e.g. chmod 700)",
            dir.display(),
            mode & 0o7777
        ));
    }
    None
}

/// Checks an existing run dir (and the link to it, if it is one).
pub fn check_trusted(dir: &Path) -> Result<(), String> {
    let lmd = fs::symlink_metadata(dir).map_err(|e| format!("-f {}: {e}", dir.display()))?;
    if lmd.file_type().is_symlink() && lmd.uid() != 0 {
        return Err(format!("-f {}: a symbolic link owned by uid {}, not root: refused", dir.display(), lmd.uid()));
    }
    let md = fs::metadata(dir).map_err(|e| format!("-f {}: {e}", dir.display()))?;
    if !md.is_dir() {
        return Err(format!("-f {}: not a directory", dir.display()));
    }
    distrust(dir, &md).map_or(Ok(()), Err)
}

pub fn drain_path(dir: &Path) -> PathBuf {
    dir.join(DRAIN_FILE)
}

/// True while `atropos --backup` holds the host in BACKUP: anything named `drain` is the drain.
pub fn drained(dir: &Path) -> bool {
    fs::symlink_metadata(drain_path(dir)).is_ok()
}

/// Opens a file of the run dir without following a link and without blocking (a FIFO cannot hang the
/// caller), and only if it is a regular file (`InvalidData` otherwise).
pub fn open_regular(path: &Path, opts: &mut OpenOptions) -> io::Result<File> {
    let f = opts.custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            io::Error::new(io::ErrorKind::InvalidData, format!("{} is a symbolic link", path.display()))
        } else {
            e
        }
    })?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{} is not a regular file", path.display())));
    }
    Ok(f)
}

/// Writes `text` to `name` in `dir` through a fresh temporary file and a rename: whatever stood at
/// `name` (a link, a FIFO, an older file) is replaced, never written through.
fn replace_file(dir: &Path, name: &str, text: &str, mode: u32) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    {
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(mode)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&tmp)?;
        // No fsync: the file must survive the death of a process, not a power cut (after which the
        // interfaces have their own MAC again and /run is empty), and it is written on the release path.
        file.write_all(text.as_bytes())?;
    }
    fs::rename(&tmp, dir.join(name))
}

/// Sockets of the members: `vrrpd_<ifname>_<vrid>.sock` files, `me` excluded.
pub fn sibling_sockets(dir: &Path, me: Option<&MemberId>) -> Vec<(MemberId, PathBuf)> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) =
                name.strip_prefix("vrrpd_").and_then(|n| n.strip_suffix(".sock")).and_then(MemberId::from_stem)
                && Some(&id) != me
            {
                out.push((id, e.path()));
            }
        }
    }
    out.sort();
    out
}

/// Creates the run dir (mode 0700) if missing; refuses one that root does not own or others can write.
pub fn prepare(dir: &Path) -> Result<(), String> {
    match fs::symlink_metadata(dir) {
        Ok(_) => check_trusted(dir)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("-f {}: cannot create the run directory: {e}", dir.display()))?;
        }
        Err(e) => return Err(format!("-f {}: {e}", dir.display())),
    }
    // Writable by us?
    let probe = dir.join(format!(".probe.{}", std::process::id()));
    let _ = fs::remove_file(&probe);
    OpenOptions::new()
        .create_new(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&probe)
        .map_err(|e| format!("-f {}: run directory not writable: {e}", dir.display()))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// A member's state as recorded: its virtual router's, or DEAD once a survivor cleaned its link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecordState {
    #[default]
    Init,
    Backup,
    Master,
    Dead,
}

impl RecordState {
    pub fn name(self) -> &'static str {
        match self {
            RecordState::Init => "INIT",
            RecordState::Backup => "BACKUP",
            RecordState::Master => "MASTER",
            RecordState::Dead => "DEAD",
        }
    }
    pub fn parse(s: &str) -> Option<RecordState> {
        [RecordState::Init, RecordState::Backup, RecordState::Master, RecordState::Dead]
            .into_iter()
            .find(|r| r.name() == s)
    }
}

impl From<crate::fsm::State> for RecordState {
    fn from(s: crate::fsm::State) -> RecordState {
        match s {
            crate::fsm::State::Initialize => RecordState::Init,
            crate::fsm::State::Backup => RecordState::Backup,
            crate::fsm::State::Master => RecordState::Master,
        }
    }
}

impl std::fmt::Display for RecordState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One member's line in the state file. Unknown keys are ignored when reading, so that older and newer
/// versions can share a run dir during an upgrade.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    pub ifname: String,
    pub vrid: u8,
    pub pid: u32,
    pub state: RecordState,
    pub prio: u8,
    pub cfg_prio: u8,
    /// The interface's own MAC, recorded before the first change.
    pub omac: Option<[u8; 6]>,
    /// The MAC in use now.
    pub mac: Option<[u8; 6]>,
    pub vips: Vec<Vip>,
    /// The IPv6 VIPs (VRRPv3): what a survivor removes from a dead member's interface.
    pub vips6: Vec<crate::cli::Vip6>,
    /// Expected group size (-M), 0 when alone.
    pub members: u32,
    pub link_up: bool,
    /// Advertisement interval (s) and authentication type (0 none, 1 password): what a survivor needs
    /// to send priority 0 on a dead member's link.
    pub adver_int: Interval,
    pub auth_type: u8,
    /// The VRRP version the member speaks (2 in records of earlier versions).
    pub version: Version,
    /// `--peer` and `--src`: where a survivor sends the dead member's priority 0 (empty: the group).
    pub peers: Vec<Ipv4Addr>,
    pub src: Option<Ipv4Addr>,
    /// The IPv6 router's `--peer`s (empty: ff02::12) and its `--src` (none: the link-local address),
    /// the source a peer listing it expects of the dead member's IPv6 priority 0.
    pub peers6: Vec<std::net::Ipv6Addr>,
    pub src6: Option<std::net::Ipv6Addr>,
    /// Unix time of the last transition, in milliseconds.
    pub since_ms: u64,
    pub reason: String,
    /// `-n`: this member leaves the interface's MAC alone (its `omac` is only what it saw).
    pub no_vmac: bool,
}

use crate::control::clean;

/// Unix time in milliseconds (the `since` of records and answers).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Member {
    pub fn to_line(&self) -> String {
        let mac = |m: &Option<[u8; 6]>| m.as_ref().map(fmt_mac).unwrap_or_else(|| "-".into());
        let vips: Vec<String> = self.vips.iter().map(|v| v.to_string()).collect();
        format!(
            "if={}\tvrid={}\tpid={}\tstate={}\tprio={}\tcfgprio={}\tomac={}\tmac={}\tvips={}\tvips6={}\tmembers={}\tlink={}\tintcs={}\tauth={}\tsince={}\tnovmac={}\tver={}\tpeers={}\tsrc={}\tpeers6={}\tsrc6={}\treason={}",
            clean(&self.ifname),
            self.vrid,
            self.pid,
            self.state.name(),
            self.prio,
            self.cfg_prio,
            mac(&self.omac),
            mac(&self.mac),
            vips.join(","),
            self.vips6.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","),
            self.members,
            if self.link_up { "up" } else { "down" },
            self.adver_int.centis(),
            self.auth_type,
            self.since_ms,
            u8::from(self.no_vmac),
            self.version.number(),
            self.peers.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","),
            self.src.map_or_else(|| "-".to_string(), |a| a.to_string()),
            self.peers6.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","),
            self.src6.map_or_else(|| "-".to_string(), |a| a.to_string()),
            clean(&self.reason),
        )
    }

    /// Parses one line; `None` for a line that is not a member record (garbage is skipped, not fatal).
    pub fn parse(line: &str) -> Option<Member> {
        let mut m = Member::default();
        let mut have_if = false;
        for field in line.split('\t') {
            let (k, v) = field.split_once('=')?;
            match k {
                "if" => {
                    if v.is_empty() || v.len() > 15 || v.contains('/') {
                        return None;
                    }
                    m.ifname = v.to_string();
                    have_if = true;
                }
                "vrid" => m.vrid = v.parse().ok()?,
                "pid" => m.pid = v.parse().ok()?,
                "state" => m.state = RecordState::parse(v)?,
                "prio" => m.prio = v.parse().ok()?,
                "cfgprio" => m.cfg_prio = v.parse().ok()?,
                "omac" => m.omac = parse_mac(v),
                "mac" => m.mac = parse_mac(v),
                "vips" => {
                    m.vips = v
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| crate::cli::parse_vip(s).ok())
                        .collect::<Option<Vec<_>>>()?
                }
                "vips6" => {
                    m.vips6 = v
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| crate::cli::v6::parse_vip6(s).ok())
                        .collect::<Option<Vec<_>>>()?
                }
                "members" => m.members = v.parse().ok()?,
                "link" => m.link_up = v == "up",
                // Seconds in records of earlier versions, centiseconds since.
                "int" => m.adver_int = Interval::from_secs(v.parse().ok()?),
                "intcs" => m.adver_int = Interval::from_centis(v.parse().ok()?),
                "auth" => m.auth_type = v.parse().ok()?,
                "since" => m.since_ms = v.parse().ok()?,
                "reason" => m.reason = v.to_string(),
                "novmac" => m.no_vmac = v == "1",
                "peers" => {
                    m.peers = v.split(',').filter(|s| !s.is_empty()).map(|s| s.parse().ok()).collect::<Option<_>>()?
                }
                "peers6" => {
                    m.peers6 = v.split(',').filter(|s| !s.is_empty()).map(|s| s.parse().ok()).collect::<Option<_>>()?
                }
                "src" if v == "-" => m.src = None,
                "src" => m.src = Some(v.parse().ok()?),
                "src6" if v == "-" => m.src6 = None,
                "src6" => m.src6 = Some(v.parse().ok()?),
                "ver" => {
                    m.version = match v {
                        "2" => Version::V2,
                        "3" => Version::V3,
                        _ => return None,
                    }
                }
                _ => {}
            }
        }
        have_if.then_some(m)
    }
}

pub fn parse_state(text: &str) -> Vec<Member> {
    text.lines().filter(|l| !l.starts_with('#')).filter_map(Member::parse).collect()
}

/// Longest state file read (a few hundred bytes per member).
const MAX_STATE: u64 = 4 << 20;

/// Reads the state file without locking (a reader sees the old or the new file, never a mix,
/// thanks to the rename). Missing file = no members; something else than a regular file there is an
/// `InvalidData` error (the next write replaces it).
pub fn read_state(dir: &Path) -> io::Result<Vec<Member>> {
    let f = match open_regular(&dir.join(STATE_FILE), OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut io::Read::take(f, MAX_STATE), &mut bytes)?;
    Ok(parse_state(&String::from_utf8_lossy(&bytes)))
}

/// Takes the state lock without waiting more than `LOCK_PATIENCE`: members hold it for the few
/// microseconds of a rewrite; a holder that keeps it longer must not stall the event loop.
fn lock_state(dir: &Path) -> io::Result<File> {
    let path = dir.join(LOCK_FILE);
    let open = || open_regular(&path, OpenOptions::new().create(true).truncate(false).write(true).mode(0o600));
    let lock = match open() {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::InvalidData || e.raw_os_error() == Some(libc::ENXIO) => {
            // A link or a FIFO where the lock file should be: replace it.
            fs::remove_file(&path)?;
            open()?
        }
        Err(e) => return Err(e),
    };
    let t0 = std::time::Instant::now();
    loop {
        match flock(&lock, true, false) {
            Ok(()) => return Ok(lock),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && t0.elapsed() < LOCK_PATIENCE => std::thread::yield_now(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} held by another process for more than {LOCK_PATIENCE:?}", path.display()),
                ));
            }
            Err(e) => return Err(e),
        }
    }
}

const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(200);

/// Read-modify-write of the state file under the lock. `f` edits the member list.
/// Something else than a regular file where the state file should be reads as no members (and is
/// replaced by this write).
pub fn update_state(dir: &Path, f: impl FnOnce(&mut Vec<Member>)) -> io::Result<()> {
    let _lock = lock_state(dir)?;
    let mut members = match read_state(dir) {
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Vec::new(),
        other => other?,
    };
    f(&mut members);
    let mut out = String::from("# vrrpd host state: one line per member, tab-separated key=value\n");
    for m in &members {
        out.push_str(&m.to_line());
        out.push('\n');
    }
    replace_file(dir, STATE_FILE, &out, 0o644)
    // The lock is released when `_lock` is dropped.
}

impl Member {
    pub fn id(&self) -> MemberId {
        MemberId::new(&self.ifname, self.vrid)
    }
}

/// Replaces (or adds) the line of member `m.id()`.
pub fn put_member(dir: &Path, m: &Member) -> io::Result<()> {
    let id = m.id();
    update_state(dir, |all| {
        all.retain(|x| x.id() != id);
        all.push(m.clone());
        all.sort_by_key(|a| a.id());
    })
}

pub fn remove_member(dir: &Path, id: &MemberId) -> io::Result<()> {
    update_state(dir, |all| all.retain(|x| &x.id() != id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Member {
        Member {
            ifname: "eth0".into(),
            vrid: 51,
            pid: 1234,
            state: RecordState::Master,
            prio: 110,
            cfg_prio: 110,
            omac: Some([2, 0, 0, 0, 0, 1]),
            mac: Some([0, 0, 0x5e, 0, 1, 51]),
            vips: vec![
                Vip { addr: Ipv4Addr::new(10, 0, 0, 1), prefix: 32 },
                Vip { addr: Ipv4Addr::new(10, 0, 1, 1), prefix: 24 },
            ],
            vips6: vec![
                crate::cli::v6::parse_vip6("fe80::51").unwrap(),
                crate::cli::v6::parse_vip6("2001:db8::1/64").unwrap(),
            ],
            members: 2,
            link_up: true,
            adver_int: Interval::from_centis(1),
            version: Version::V3,
            peers: vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)],
            src: Some(Ipv4Addr::new(10, 0, 0, 1)),
            peers6: vec!["fe80::2".parse().unwrap()],
            src6: Some("2001:db8::5".parse().unwrap()),
            auth_type: 0,
            since_ms: 1_700_000_000_123,
            reason: "no advert for 3.61 s\t(tab)".into(),
            no_vmac: true,
        }
    }

    #[test]
    fn line_roundtrip() {
        let m = sample();
        let back = Member::parse(&m.to_line()).unwrap();
        assert_eq!(back.reason, "no advert for 3.61 s (tab)");
        assert_eq!(Member { reason: m.reason.replace('\t', " "), ..m }, back);
    }

    #[test]
    fn garbage_lines_are_skipped() {
        let text =
            format!("# comment\n{}\nrandom garbage\nif=\tvrid=1\nif=eth1\tvrid=999\n\u{0}\u{1}\n", sample().to_line());
        let all = parse_state(&text);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].ifname, "eth0");
    }

    #[test]
    fn update_is_atomic_and_keyed_by_interface_and_vrid() {
        let dir = std::env::temp_dir().join(format!("vrrpd-rundir-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        prepare(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        put_member(&dir, &sample()).unwrap();
        let mut b = sample();
        b.ifname = "eth1".into();
        b.vrid = 52;
        put_member(&dir, &b).unwrap();
        let mut a2 = sample();
        a2.state = RecordState::Backup;
        put_member(&dir, &a2).unwrap();
        let all = read_state(&dir).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].state, RecordState::Backup);
        assert_eq!(all[1].vrid, 52);
        // A second vrid on the same interface is another member.
        let mut c = sample();
        c.vrid = 61;
        put_member(&dir, &c).unwrap();
        assert_eq!(read_state(&dir).unwrap().len(), 3);
        remove_member(&dir, &MemberId::new("eth0", 51)).unwrap();
        remove_member(&dir, &MemberId::new("eth0", 61)).unwrap();
        assert_eq!(read_state(&dir).unwrap().len(), 1);
        // No temp file left behind.
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(names.iter().all(|n| !n.to_string_lossy().starts_with(".state")), "{names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn member_file_names_carry_the_vrid() {
        let id = MemberId::new("br_lan", 51);
        assert_eq!(id.stem(), "br_lan_51");
        assert_eq!(pid_path(Path::new("/run/vrrpd"), &id), PathBuf::from("/run/vrrpd/vrrpd_br_lan_51.pid"));
        assert_eq!(MemberId::from_stem("br_lan_51"), Some(id));
        assert_eq!(MemberId::from_stem("eth0"), None);
        assert_eq!(MemberId::from_stem("eth0_0"), None);
        assert_eq!(MemberId::from_stem("_51"), None);
    }

    #[test]
    fn refuses_world_writable_dir() {
        let dir = std::env::temp_dir().join(format!("vrrpd-rundir-ww-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(prepare(&dir).unwrap_err().contains("writable by group or others"));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o770)).unwrap();
        assert!(prepare(&dir).unwrap_err().contains("writable by group or others"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_a_dir_root_does_not_own() {
        if crate::sys::proc::euid() != 0 {
            return; // chown needs root; the lab tests run as root
        }
        let dir = std::env::temp_dir().join(format!("vrrpd-rundir-own-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
        let e = prepare(&dir).unwrap_err();
        assert!(e.contains("owned by uid 65534, not root"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn links_and_fifos_are_never_followed_nor_waited_on() {
        let dir = std::env::temp_dir().join(format!("vrrpd-rundir-lnk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        prepare(&dir).unwrap();
        let victim = dir.join("victim");
        fs::write(&victim, "precious\n").unwrap();
        // A link planted where the state file and its lock stand: replaced, the victim untouched.
        std::os::unix::fs::symlink(&victim, dir.join(STATE_FILE)).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(LOCK_FILE)).unwrap();
        assert_eq!(read_state(&dir).unwrap_err().kind(), io::ErrorKind::InvalidData);
        put_member(&dir, &sample()).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert!(fs::symlink_metadata(dir.join(STATE_FILE)).unwrap().is_file());
        assert_eq!(read_state(&dir).unwrap().len(), 1);
        // A FIFO: reading does not block, the next write replaces it.
        fs::remove_file(dir.join(STATE_FILE)).unwrap();
        crate::sys::proc::mkfifo(&dir.join(STATE_FILE)).unwrap();
        assert_eq!(read_state(&dir).unwrap_err().kind(), io::ErrorKind::InvalidData);
        put_member(&dir, &sample()).unwrap();
        assert_eq!(read_state(&dir).unwrap().len(), 1);
        // The drain file is written through a rename, never through a planted link.
        std::os::unix::fs::symlink(&victim, drain_path(&dir)).unwrap();
        assert!(drained(&dir));
        set_drain(&dir, "test", 1).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert!(fs::symlink_metadata(drain_path(&dir)).unwrap().is_file());
        fs::remove_dir_all(&dir).unwrap();
    }
}
