//! Standard output, a line at a time; notes on standard error.
//!
//! Every line is flushed at once so `itc events | grep` and `itc recv` in a
//! pipeline see each line as it happens. A reader that goes away
//! (`EPIPE`) ends the program quietly ([`Error::StdoutClosed`]); waits
//! notice it too (see [`is_pipe`]).

use std::io::{self, Write};
use std::os::fd::AsRawFd;

use nix::sys::stat::{fstat, SFlag};

use crate::errors::Error;

/// Writes `line` and a newline to standard output and flushes.
pub fn line(line: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => Error::StdoutClosed,
            _ => Error::Stdout(e),
        })
}

/// Writes `itc: MESSAGE` to standard error: a warning or a note beside
/// the output, never the end of the program. A standard error that
/// cannot be written is ignored (`eprintln!` would panic).
pub fn note(message: &str) {
    let _ = writeln!(io::stderr().lock(), "itc: {message}");
}

/// Whether standard output is a pipe or socket, whose reader can go away
/// while `itc` waits.
pub fn is_pipe() -> bool {
    match fstat(io::stdout().as_raw_fd()) {
        Ok(st) => {
            let fmt = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
            fmt == SFlag::S_IFIFO || fmt == SFlag::S_IFSOCK
        }
        Err(_) => false,
    }
}
