//! The only place with syscalls and `unsafe`.
#![allow(unsafe_code)]

pub mod linkwatch;
pub mod log;
pub mod maclock;
pub mod neigh;
pub mod netlink;
pub mod netlink6;
pub mod proc;
pub mod procwatch;
pub mod raw;
pub mod raw6;
pub mod signals;
pub mod timer;
pub mod watch;
