//! inotify on the run dir: notices at once when it, our files in it, or the drain file change.

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

pub struct DirWatch {
    ino: Inotify,
    wd: Option<WatchDescriptor>,
}

/// What happened in the run dir since the last call.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The directory itself was removed or moved away.
    pub dir_gone: bool,
    /// Names of entries deleted or moved away.
    pub removed: Vec<String>,
    /// Names of entries written in place (not replaced by rename).
    pub written: Vec<String>,
    /// Names of entries created or moved in.
    pub created: Vec<String>,
}

fn mask() -> AddWatchFlags {
    AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_CLOSE_WRITE
}

impl DirWatch {
    pub fn new(dir: &Path) -> io::Result<DirWatch> {
        let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        let wd = ino.add_watch(dir, mask())?;
        Ok(DirWatch { ino, wd: Some(wd) })
    }

    pub fn fd(&self) -> RawFd {
        self.ino.as_fd().as_raw_fd()
    }

    /// Watches the directory again (after it was recreated).
    pub fn rewatch(&mut self, dir: &Path) -> io::Result<()> {
        if let Some(wd) = self.wd.take() {
            let _ = self.ino.rm_watch(wd);
        }
        self.wd = Some(self.ino.add_watch(dir, mask())?);
        Ok(())
    }

    pub fn drain(&mut self) -> Changes {
        let mut c = Changes::default();
        loop {
            let evs = match self.ino.read_events() {
                Ok(e) if !e.is_empty() => e,
                _ => return c,
            };
            for e in evs {
                let name = e.name.map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let m = e.mask;
                if m.intersects(AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF | AddWatchFlags::IN_IGNORED)
                {
                    c.dir_gone = true;
                    self.wd = None;
                } else if m.intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM) {
                    c.removed.push(name);
                } else if m.contains(AddWatchFlags::IN_CLOSE_WRITE) {
                    c.written.push(name);
                } else if m.intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO) {
                    c.created.push(name);
                }
            }
        }
    }
}
