//! `itc status --watch [--interval SECS]`: the status table again and
//! again, like watch(1).
//!
//! On a terminal the table is redrawn in place on the alternate screen,
//! under a title line (`Every 1.0s: itc status`, the tile's mount, the
//! time), with the cursor hidden and long lines cut at the edge rather than
//! wrapped. Elsewhere (a pipe, a file) each table is printed after the one
//! before, under its title, a blank line between them.
//!
//! A reader thread reads the tree; the main thread only draws and sleeps
//! in `poll(2)` on a signalfd (SIGINT, SIGTERM, SIGHUP) and on the reader's
//! wake-ups. So Ctrl-C ends `itc` at once, even while a read of a hung
//! `itcd`'s tree is pending, and the terminal is given back as it was (the
//! main screen, the cursor, line wrapping) on every way out: a signal, the
//! terminal hanging up, an error writing to it. A failing read (no `itcd`
//! at the mount, or one that stopped) is shown in place of the table, and
//! the watch goes on until the tree answers again. Exit status 0 on a
//! signal, 2 when standard output fails.

use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::cmd_status;
use crate::errors::Error;
use crate::tree::Tree;

/// The shortest interval, as watch(1) has it.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The alternate screen, cursor hidden, no line wrapping.
const ENTER: &str = "\x1b[?1049h\x1b[?25l\x1b[?7l";
/// Back as it was: wrapping, the cursor, the main screen.
const LEAVE: &str = "\x1b[?7h\x1b[?25h\x1b[?1049l";
/// To the top left corner.
const HOME: &str = "\x1b[H";
/// Clears the rest of the line, and the rest of the screen.
const CLEAR_LINE: &str = "\x1b[K";
const CLEAR_BELOW: &str = "\x1b[J";

/// Runs `itc status --watch` until a signal ends it.
pub fn run(tree: &Tree, interval: Duration) -> Result<u8, Error> {
    let signals = quit_signals()?;
    // One frame waits at most: a reader ahead of a held terminal waits.
    let (frames_tx, frames) = mpsc::sync_channel(1);
    let (wake_rx, wake_tx) = UnixStream::pair().map_err(Error::Stdout)?;
    let reader_tree = tree.clone();
    std::thread::Builder::new()
        .name("itc-watch-read".to_string())
        .spawn(move || reader(&reader_tree, interval, &frames_tx, wake_tx))
        .map_err(Error::Stdout)?;
    let title = format!(
        "Every {:.1}s: itc status  {}",
        interval.as_secs_f64(),
        tree.root().display()
    );
    let mut screen = Screen::new();
    let result = watch(&mut screen, &title, &signals, &frames, &wake_rx);
    screen.leave();
    result.map(|()| 0)
}

/// Blocks SIGINT, SIGTERM and SIGHUP here and in the threads started
/// later; they are read from the returned signalfd.
fn quit_signals() -> Result<SignalFd, Error> {
    let mut mask = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        mask.add(s);
    }
    mask.thread_block().map_err(Error::Signals)?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(Error::Signals)
}

/// Reads the table every `interval` (counted from the start of the read
/// before) and hands it over, each time with a byte on `wake`; ends when
/// the main thread is gone.
fn reader(tree: &Tree, interval: Duration, frames: &SyncSender<Frame>, mut wake: UnixStream) {
    let mut next = Instant::now();
    loop {
        let lines = cmd_status::table(tree).map_err(|e| format!("itc: {e}"));
        let frame = Frame {
            lines,
            at: SystemTime::now(),
        };
        if frames.send(frame).is_err() || wake.write_all(&[1]).is_err() {
            return;
        }
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            // A read took longer than the interval: go on from now.
            next = now;
        }
    }
}

/// One reading of the tree.
struct Frame {
    lines: Result<Vec<String>, String>,
    at: SystemTime,
}

fn watch(
    screen: &mut Screen,
    title: &str,
    signals: &SignalFd,
    frames: &Receiver<Frame>,
    wake: &UnixStream,
) -> Result<(), Error> {
    screen.enter()?;
    let stdout = io::stdout();
    loop {
        let mut fds = [
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(wake.as_fd(), PollFlags::POLLIN),
            // Only hang-ups and errors: nothing is read from it.
            PollFd::new(stdout.as_fd(), PollFlags::empty()),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::Signals(e)),
        }
        let ready = |fd: &PollFd| fd.revents().unwrap_or(PollFlags::empty());
        let gone = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
        if !ready(&fds[0]).is_empty() {
            return Ok(());
        }
        if ready(&fds[2]).intersects(gone) {
            return Err(Error::StdoutClosed);
        }
        if ready(&fds[1]).contains(PollFlags::POLLIN) {
            let mut bytes = [0u8; 64];
            let _ = (&*wake).read(&mut bytes);
            // Only the newest frame is drawn.
            if let Some(frame) = frames.try_iter().last() {
                screen.draw(title, &frame)?;
            }
        } else if ready(&fds[1]).intersects(gone) {
            // The reader is gone: it never returns while this thread
            // listens, so this is a panic, reported by the runtime.
            return Ok(());
        }
    }
}

/// Standard output, redrawn in place on a terminal.
struct Screen {
    terminal: bool,
    entered: bool,
    first: bool,
}

impl Screen {
    fn new() -> Screen {
        Screen {
            terminal: io::stdout().is_terminal(),
            entered: false,
            first: true,
        }
    }

    fn write(&self, text: &str) -> Result<(), Error> {
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| match e.kind() {
                io::ErrorKind::BrokenPipe => Error::StdoutClosed,
                _ => Error::Stdout(e),
            })
    }

    fn enter(&mut self) -> Result<(), Error> {
        if self.terminal {
            self.entered = true;
            self.write(ENTER)?;
        }
        Ok(())
    }

    /// Gives the terminal back, if it was taken; errors are moot here.
    fn leave(&mut self) {
        if self.entered {
            self.entered = false;
            let _ = self.write(LEAVE);
        }
    }

    fn draw(&mut self, title: &str, frame: &Frame) -> Result<(), Error> {
        let when = humantime::format_rfc3339_seconds(frame.at);
        let mut lines = vec![format!("{title}  {when}"), String::new()];
        match &frame.lines {
            Ok(table) => lines.extend(table.iter().cloned()),
            Err(e) => lines.push(e.clone()),
        }
        let mut text = String::new();
        if self.terminal {
            text.push_str(HOME);
            for l in &lines {
                text.push_str(l);
                text.push_str(CLEAR_LINE);
                text.push('\n');
            }
            text.push_str(CLEAR_BELOW);
        } else {
            if !self.first {
                text.push('\n');
            }
            for l in &lines {
                text.push_str(l);
                text.push('\n');
            }
        }
        self.first = false;
        self.write(&text)
    }
}
