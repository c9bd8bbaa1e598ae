//! A pseudo-terminal for tests of what happens when a program's terminal
//! closes: the program runs as the leader of a session of its own with
//! the terminal as its controlling terminal (as a login shell does), and
//! [`Pty::hang_up`] closes the master end, which hangs the terminal up:
//! the kernel sends SIGHUP to the session leader, and every later write to
//! the terminal fails `EIO`.

use std::ffi::CStr;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The master end of a pseudo-terminal, nonblocking, and its slave's path.
pub struct Pty {
    master: OwnedFd,
    slave: PathBuf,
    seen: Vec<u8>,
}

impl Pty {
    /// Opens a new pseudo-terminal; panics if the system has none.
    pub fn open() -> Pty {
        // SAFETY: posix_openpt takes flags and returns a new descriptor or
        // -1; no memory is passed.
        let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        // SAFETY: the kernel just returned fd and nothing else owns it.
        let master = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: grantpt, unlockpt and fcntl take the master descriptor;
        // ptsname_r writes at most name.len() bytes, NUL included.
        unsafe {
            assert_eq!(libc::grantpt(fd), 0, "grantpt");
            assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
            assert_eq!(
                libc::ptsname_r(fd, name.as_mut_ptr(), name.len()),
                0,
                "ptsname_r"
            );
            assert_eq!(libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK), 0, "fcntl");
        }
        // SAFETY: ptsname_r succeeded, so name holds a NUL-terminated string.
        let slave = unsafe { CStr::from_ptr(name.as_ptr()) };
        Pty {
            master,
            slave: PathBuf::from(slave.to_string_lossy().into_owned()),
            seen: Vec::new(),
        }
    }

    /// Makes `cmd` run on this terminal: standard input, output and error,
    /// in a new session whose controlling terminal it is.
    pub fn attach(&self, cmd: &mut Command) {
        let tty = || -> File {
            OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY)
                .open(&self.slave)
                .expect("open the terminal's slave end")
        };
        cmd.stdin(tty()).stdout(tty()).stderr(tty());
        // SAFETY: between fork and exec only setsid and ioctl, which are
        // async-signal-safe; no memory is allocated.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// Everything the terminal showed so far, read until `done` holds for
    /// it or `timeout` passes.
    pub fn read_until(&mut self, timeout: Duration, mut done: impl FnMut(&str) -> bool) -> String {
        crate::wait_for(timeout, || {
            let mut buf = [0u8; 4096];
            loop {
                // SAFETY: reads at most buf.len() bytes into buf.
                let n = unsafe {
                    libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
                };
                if n <= 0 {
                    break;
                }
                self.seen.extend_from_slice(&buf[..n as usize]);
            }
            done(&String::from_utf8_lossy(&self.seen))
        });
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Closes the master end: the terminal hangs up.
    pub fn hang_up(self) {
        drop(self.master);
    }
}
