//! The raw system calls of `tile-sim`, each `unsafe` block justified, and
//! waiting on descriptors with a deadline.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};

/// A descriptor that becomes readable when process `pid` exits
/// (`pidfd_open(2)`, Linux 5.3). `pid` must be a child not yet reaped, so
/// that the number cannot name another process.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "descriptor out of range"))?;
    // SAFETY: the kernel just returned this descriptor and nothing else owns
    // it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Makes a child start with no signals blocked (this process blocks the
/// ones it handles) and receive SIGTERM if the thread that started it dies,
/// so an `itcd` does not outlive a `tile-sim` that was killed. The kernel
/// ties this to the thread, not the process: an `itcd` started by a control
/// request goes with the control thread, which lives until the grid stops.
pub fn prepare_child(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only makes the
    // async-signal-safe system calls sigprocmask and prctl.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                .map_err(io::Error::from)?;
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(io::Error::from)
        });
    }
}

/// Waits until one of `fds` is readable or `deadline` passes; returns the
/// index of the first readable one, or `None` at the deadline.
pub fn wait_readable(fds: &[BorrowedFd<'_>], deadline: Instant) -> io::Result<Option<usize>> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Round up so that a wait never ends just before the deadline.
        let ms = left.as_micros().div_ceil(1000);
        let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
        let mut polled: Vec<PollFd<'_>> = fds
            .iter()
            .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        match nix::poll::poll(&mut polled, timeout) {
            Ok(0) if Instant::now() >= deadline => return Ok(None),
            Ok(_) => {
                let ready = polled
                    .iter()
                    .position(|p| p.revents().is_some_and(|r| !r.is_empty()));
                if ready.is_some() {
                    return Ok(ready);
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
