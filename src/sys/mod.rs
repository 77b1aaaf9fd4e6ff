//! The only place with syscalls and `unsafe`.

pub mod log;
pub mod netlink;
pub mod proc;
pub mod raw;
pub mod watch;
