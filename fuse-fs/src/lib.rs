//! The T2 intertile FUSE tree (`docs/reference.md`): its layout, and a single-threaded
//! server that answers FUSE requests through a [`Backend`].
//!
//! The server is built for an event loop: its device descriptor is
//! nonblocking and can be registered with epoll; requests that must wait
//! (a blocking read with no packet queued, a write into a full queue) are
//! parked, not given a thread, and answered when the backend says their
//! handle changed, or with `EINTR` when the caller is interrupted by a
//! signal.

pub mod backend;
pub mod mount;
pub mod mountinfo;
pub mod server;
mod sys;
pub mod tree;

pub use backend::{Backend, Errno, Fh, Readiness};
pub use mount::{check_mount_point, mount, MountError, MountOptions, Session};
pub use server::{Ownership, Progress, Server};
pub use tree::{FileKind, Node, Scope};
