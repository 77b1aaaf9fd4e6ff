//! Processes and files: root check, pid-file lock, detaching, liveness, script permissions.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::mem::{size_of, size_of_val};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

pub fn pid() -> u32 {
    std::process::id()
}

/// True if a process with this pid exists (EPERM counts as existing).
pub fn alive(pid: u32) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

pub fn flock(f: &File, exclusive: bool, wait: bool) -> io::Result<()> {
    let mut op = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH };
    if !wait {
        op |= libc::LOCK_NB;
    }
    loop {
        // SAFETY: valid descriptor owned by `f`.
        if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The pid file, exclusively locked for the life of the process: a lock, not a pid, says who runs,
/// so a stale file left by a dead process is simply taken over.
pub struct PidFile {
    file: File,
}

pub enum PidError {
    /// Another live process holds the lock (its pid, if readable).
    Running(Option<u32>),
    Io(io::Error),
}

impl PidFile {
    /// Opens (without following a link or blocking) and locks the pid file. Something else than a
    /// regular file at `path` (a planted link, a FIFO) is removed and replaced by a fresh file.
    pub fn acquire(path: &Path) -> Result<PidFile, PidError> {
        let open =
            || {
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o600)
                    .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(path)
                    .and_then(|f| {
                        if f.metadata()?.is_file() { Ok(f) } else { Err(io::Error::from_raw_os_error(libc::ELOOP)) }
                    })
            };
        let mut file = match open() {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENXIO)) => {
                std::fs::remove_file(path).map_err(PidError::Io)?;
                open().map_err(PidError::Io)?
            }
            other => other.map_err(PidError::Io)?,
        };
        match flock(&file, true, false) {
            Ok(()) => Ok(PidFile { file }),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                Err(PidError::Running(s.trim().parse().ok()))
            }
            Err(e) => Err(PidError::Io(e)),
        }
    }

    /// Writes our pid (call after detaching).
    pub fn write_pid(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        use std::io::Seek;
        self.file.seek(io::SeekFrom::Start(0))?;
        writeln!(self.file, "{}", pid())?;
        self.file.sync_data()
    }
}

/// The parent's end of the readiness pipe: it waits for the daemon to say "ready" or an error.
pub struct Detached {
    pipe: File,
}

impl Detached {
    /// Reports to the waiting parent; after this the parent exits.
    pub fn report(mut self, result: Result<(), String>) {
        let msg = match result {
            Ok(()) => "ok\n".to_string(),
            Err(e) => format!("{e}\n"),
        };
        let _ = self.pipe.write_all(msg.as_bytes());
    }
}

/// Forks into the background (fork, setsid, fork), stdio to /dev/null, cwd /. The original process waits
/// until the daemon reports through [`Detached::report`] and exits 0 on success, 1 with the daemon's
/// message otherwise. Returns in the daemon only.
pub fn detach() -> io::Result<Detached> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors owned here only.
    let (rd, wr) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    // SAFETY: single-threaded at this point (before any thread is started).
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {}
        _ => {
            drop(wr);
            parent_wait(rd);
        }
    }
    drop(rd);
    // SAFETY: setsid/fork in the child; no locks held.
    unsafe {
        libc::setsid();
        match libc::fork() {
            -1 => std::process::exit(1),
            0 => {}
            _ => libc::_exit(0),
        }
        libc::umask(0o022);
    }
    std::env::set_current_dir("/")?;
    let null = OpenOptions::new().read(true).write(true).open("/dev/null")?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors.
        unsafe { libc::dup2(null.as_raw_fd(), fd) };
    }
    Ok(Detached { pipe: wr })
}

fn parent_wait(mut rd: File) -> ! {
    let mut s = String::new();
    let _ = rd.read_to_string(&mut s);
    let s = s.trim();
    if s == "ok" {
        std::process::exit(0);
    }
    if s.is_empty() {
        eprintln!("vrrpd: the daemon exited during startup (see the system log)");
    } else {
        eprintln!("vrrpd: {s}");
    }
    std::process::exit(1);
}

/// Checks a hook script: a regular executable file that only its owner can write, and owned by root
/// (or by the user running vrrpd). Returns one line explaining the refusal.
pub fn check_script(path: &Path) -> Result<(), String> {
    let md = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !md.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    let mode = md.permissions().mode();
    if mode & 0o111 == 0 {
        return Err(format!("{}: not executable (chmod 755 it)", path.display()));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "{}: writable by others than its owner (mode {:o}); chmod go-w it",
            path.display(),
            mode & 0o7777
        ));
    }
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    if md.uid() != 0 && md.uid() != me {
        return Err(format!(
            "{}: owned by uid {} but would run as uid {me}; chown it to root",
            path.display(),
            md.uid()
        ));
    }
    Ok(())
}

/// A pipe whose read end is non-blocking (for a child's output); both ends close-on-exec.
pub fn pipe_nonblocking_read() -> io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors owned here only; fcntl on a valid descriptor.
    unsafe {
        let fl = libc::fcntl(fds[0], libc::F_GETFL);
        libc::fcntl(fds[0], libc::F_SETFL, fl | libc::O_NONBLOCK);
        Ok((File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])))
    }
}

/// Sends a signal to a whole process group.
pub fn kill_group(pgid: u32, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: plain killpg(2).
    if unsafe { libc::killpg(pgid as libc::pid_t, sig) } == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// The uid of the process at the other end of a Unix socket.
pub fn peer_uid(fd: std::os::fd::RawFd) -> io::Result<u32> {
    // SAFETY: ucred is plain data; getsockopt writes at most `len` bytes into it.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut cred as *mut libc::ucred).cast(), &mut len)
    };
    if rc == 0 { Ok(cred.uid) } else { Err(io::Error::last_os_error()) }
}

/// Waits until `fd` is readable or the timeout passes (fd −1: just waits). Used only at exit.
pub fn wait_readable(fd: std::os::fd::RawFd, timeout: std::time::Duration) {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd; a negative fd is ignored by poll(2).
    unsafe { libc::poll(&mut p, 1, timeout.as_millis() as libc::c_int) };
}

/// Command-line tools: die quietly on a closed stdout (`atropos --state | head -1`) instead of failing
/// a write.
pub fn default_sigpipe() {
    // SAFETY: resetting a signal disposition to its default.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Connects to a Unix stream socket with a deadline on the connect itself (a listener whose backlog is
/// full would otherwise block forever) and the same timeout on later reads and writes.
pub fn connect_unix(path: &Path, timeout: std::time::Duration) -> io::Result<std::os::unix::net::UnixStream> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain data; all-zero is valid.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= sa.sun_path.len() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "socket path too long"));
    }
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (i, b) in bytes.iter().enumerate() {
        sa.sun_path[i] = *b as libc::c_char;
    }
    // SAFETY: plain socket(2); the fd is owned at once.
    let raw = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor owned here only.
    let stream = unsafe { std::os::unix::net::UnixStream::from_raw_fd(raw) };
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    for opt in [libc::SO_SNDTIMEO, libc::SO_RCVTIMEO] {
        // SAFETY: `tv` is a live timeval of the given size.
        let rc = unsafe {
            libc::setsockopt(raw, libc::SOL_SOCKET, opt, (&tv as *const libc::timeval).cast(), size_of_val(&tv) as u32)
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let len = (size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    // SAFETY: `sa` is a valid sockaddr_un of at least `len` bytes.
    if unsafe { libc::connect(raw, (&sa as *const libc::sockaddr_un).cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stream)
}

/// Creates a FIFO (tests put one where a regular file should be).
pub fn mkfifo(path: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
