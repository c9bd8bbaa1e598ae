//! `tile-sim view --dir DIR`: a live picture of a running grid in the
//! terminal, with keys to cut and restore wires and to stop and start
//! tiles through the grid's control socket (the requests `ctl` sends).
//!
//! Three threads. A reader looks at the grid ([`grid_read::sample`]) every
//! `--interval` and whenever an action finished; an actor sends the
//! actions' requests one at a time (a `stop` may take seconds); the main
//! thread draws ([`view_draw`]) and reads keys, sleeping in `poll(2)` on
//! the terminal and a signalfd between redraws. They meet through one
//! bounded channel of [`Note`]s, so a tile whose tree hangs, or a slow
//! request, never freezes the screen or the keys: the title shows how old
//! the picture is.
//!
//! The terminal is put in raw mode on the alternate screen and given back
//! as it was on every way out: `q`, Ctrl-C, SIGINT, SIGTERM or SIGHUP
//! (read from the signalfd), the terminal hanging up (its reads would
//! return end-of-file for ever), an error, and a panic (ratatui's hook
//! restores it before the message is printed). Before touching the terminal the
//! grid is looked at once, so a wrong `--dir` is a one-line error (exit 2
//! when no `tile-sim` runs there, as for `ctl`).

use std::io::{self, IsTerminal};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use itc_proto::Dir;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::client::{self, Failure};
use crate::grid_model::{Picture, Sample};
use crate::grid_read;
use crate::view_draw::{self, Screen};

/// Options of `tile-sim view`.
#[derive(Debug, clap::Args)]
pub struct ViewArgs {
    /// The --dir of the running `tile-sim run`.
    #[arg(long)]
    dir: PathBuf,
    /// Seconds between looks at the grid, from 0.1 to 1; packet rates are
    /// counted over this interval.
    #[arg(long, value_name = "SECS", default_value = "0.5", value_parser = parse_interval)]
    interval: Duration,
}

/// Parses an interval from 0.1 to 1 second.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.1..=1.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err("expected seconds from 0.1 to 1".to_string()),
    }
}

/// How long the main thread waits for a key or a signal before it
/// redraws: the age in the title moves, and notes from the other threads
/// are taken.
const TICK: Duration = Duration::from_millis(200);

/// Notes the reader and the actor may have waiting for the main thread.
const NOTES: usize = 4;
/// Actions that may wait for the actor (a `stop` takes up to seconds).
const ACTIONS: usize = 8;

/// What the reader and the actor tell the main thread.
enum Note {
    /// A look at the grid, or why it failed.
    Sample(Result<Sample, String>),
    /// An action's request got its answer.
    Done {
        request: String,
        result: Result<(), String>,
    },
}

/// Runs `tile-sim view` until the user quits.
pub fn run(args: ViewArgs) -> ExitCode {
    let first = match grid_read::sample(&args.dir) {
        Ok(s) => s,
        Err(f) => {
            eprintln!("tile-sim: {}", f.message());
            return ExitCode::from(if matches!(f, Failure::NotRunning(_)) {
                2
            } else {
                1
            });
        }
    };
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        eprintln!(
            "tile-sim: view draws on a terminal; for a picture in a file use `tile-sim snapshot`"
        );
        return ExitCode::FAILURE;
    }
    match view(args, first) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tile-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP in this thread and the threads it
/// starts later, and returns a nonblocking signalfd that reads them.
fn quit_signals() -> Result<SignalFd, String> {
    let mut mask = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| format!("blocking signals: {e}"))?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))
}

fn view(args: ViewArgs, first: Sample) -> Result<(), String> {
    let signals = quit_signals()?;
    // Bounded: a thread that runs ahead of the screen (a terminal held
    // with Ctrl-S) waits, and keys beyond ACTIONS are refused.
    let (notes_tx, notes) = mpsc::sync_channel(NOTES);
    let (wake_tx, wake) = mpsc::sync_channel(1);
    let (actions, actions_rx) = mpsc::sync_channel(ACTIONS);
    spawn("tile-sim-view-read", {
        let (dir, notes) = (args.dir.clone(), notes_tx.clone());
        move || reader(&dir, args.interval, &notes, &wake)
    })?;
    spawn("tile-sim-view-act", {
        let dir = args.dir.clone();
        move || actor(&dir, &actions_rx, &notes_tx, &wake_tx)
    })?;
    let mut app = App::new(&args.dir, first);
    let mut terminal = ratatui::try_init().map_err(|e| format!("setting up the terminal: {e}"))?;
    let result = app.run(&mut terminal, &notes, &actions, &signals);
    restore();
    result
}

/// Gives the terminal back: cooked mode, the main screen, a cursor.
fn restore() {
    ratatui::restore();
    let _ = crossterm::execute!(io::stdout(), crossterm::cursor::Show);
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), String> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map(drop)
        .map_err(|e| format!("starting a thread: {e}"))
}

/// Looks at the grid every `interval`, and at once when woken; stops when
/// the main thread is gone.
fn reader(dir: &Path, interval: Duration, notes: &SyncSender<Note>, wake: &Receiver<()>) {
    loop {
        match wake.recv_timeout(interval) {
            Ok(()) => while wake.try_recv().is_ok() {},
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let sample = grid_read::sample(dir).map_err(|f| f.message().to_string());
        if notes.send(Note::Sample(sample)).is_err() {
            return;
        }
    }
}

/// Sends each action's request in turn; wakes the reader after each.
fn actor(dir: &Path, actions: &Receiver<String>, notes: &SyncSender<Note>, wake: &SyncSender<()>) {
    for request in actions {
        let result = client::request(dir, &request)
            .map(drop)
            .map_err(|f| f.message().to_string());
        // One pending wake-up is enough.
        let _ = wake.try_send(());
        if notes.send(Note::Done { request, result }).is_err() {
            return;
        }
    }
}

/// Why [`wait`] returned.
enum Woken {
    /// [`TICK`] passed: redraw.
    Tick,
    /// The terminal has input.
    Input,
    /// SIGINT, SIGTERM or SIGHUP came, or the terminal hung up (its
    /// reads would return end-of-file for ever).
    Quit,
}

/// Sleeps in `poll(2)` on the terminal (standard input) and the signalfd
/// for at most [`TICK`].
fn wait(signals: &SignalFd) -> Result<Woken, String> {
    let stdin = io::stdin();
    let mut fds = [
        PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
        PollFd::new(signals.as_fd(), PollFlags::POLLIN),
    ];
    let tick = PollTimeout::try_from(TICK).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, tick) {
        Ok(0) | Err(Errno::EINTR) => return Ok(Woken::Tick),
        Ok(_) => {}
        Err(e) => return Err(format!("waiting for the terminal: {e}")),
    }
    let ready = |fd: &PollFd| fd.revents().unwrap_or(PollFlags::empty());
    let gone = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
    if !ready(&fds[1]).is_empty() || ready(&fds[0]).intersects(gone) {
        return Ok(Woken::Quit);
    }
    Ok(if ready(&fds[0]).contains(PollFlags::POLLIN) {
        Woken::Input
    } else {
        Woken::Tick
    })
}

/// What the main thread keeps between frames.
struct App {
    dir: PathBuf,
    picture: Picture,
    /// When the last good picture came.
    fresh: Instant,
    error: Option<String>,
    selected: (usize, usize),
    wire: Option<Dir>,
    message: String,
}

/// What a key asks for.
enum Step {
    Go,
    Quit,
}

impl App {
    fn new(dir: &Path, first: Sample) -> App {
        let mut app = App {
            dir: dir.to_path_buf(),
            picture: Picture::new(first, None),
            fresh: Instant::now(),
            error: None,
            selected: (0, 0),
            wire: None,
            message: String::new(),
        };
        app.keep_wire();
        app
    }

    fn run(
        &mut self,
        terminal: &mut ratatui::DefaultTerminal,
        notes: &Receiver<Note>,
        actions: &SyncSender<String>,
        signals: &SignalFd,
    ) -> Result<(), String> {
        loop {
            while let Ok(note) = notes.try_recv() {
                self.take(note);
            }
            terminal
                .draw(|frame| {
                    let screen = Screen {
                        dir: &self.dir,
                        picture: Some(&self.picture),
                        age: self.fresh.elapsed(),
                        error: self.error.as_deref(),
                        selected: self.selected,
                        wire: self.wire,
                        message: &self.message,
                    };
                    view_draw::draw(frame.buffer_mut(), &screen);
                })
                .map_err(|e| format!("drawing: {e}"))?;
            match wait(signals)? {
                Woken::Tick => {}
                Woken::Quit => return Ok(()),
                Woken::Input => {
                    // Every event the terminal has; none waits for more.
                    while event::poll(Duration::ZERO)
                        .map_err(|e| format!("reading the terminal: {e}"))?
                    {
                        match event::read().map_err(|e| format!("reading the terminal: {e}"))? {
                            Event::Key(key) if key.kind != KeyEventKind::Release => {
                                if let Step::Quit = self.key(key, actions) {
                                    return Ok(());
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    fn take(&mut self, note: Note) {
        match note {
            Note::Sample(Ok(sample)) => {
                let picture = Picture::new(sample, Some(&self.picture.sample));
                self.picture = picture;
                self.fresh = Instant::now();
                self.error = None;
                let g = self.picture.grid();
                self.selected = (
                    self.selected.0.min(g.rows - 1),
                    self.selected.1.min(g.cols - 1),
                );
                self.keep_wire();
            }
            Note::Sample(Err(e)) => self.error = Some(e),
            Note::Done { request, result } => {
                self.message = match result {
                    Ok(()) => format!("{request}: done"),
                    Err(e) => format!("error: {request}: {e}"),
                };
            }
        }
    }

    /// The selected tile's wired directions.
    fn wired(&self) -> Vec<Dir> {
        self.picture.grid().tile(self.selected).wired()
    }

    /// Keeps the selected wire if the selected tile has it, else its first.
    fn keep_wire(&mut self) {
        let wired = self.wired();
        if !self.wire.is_some_and(|w| wired.contains(&w)) {
            self.wire = wired.first().copied();
        }
    }

    /// The selected wire moved by `step` among the tile's wired ones.
    fn turn(&mut self, step: isize) {
        let wired = self.wired();
        if wired.is_empty() {
            return;
        }
        let at = self
            .wire
            .and_then(|w| wired.iter().position(|d| *d == w))
            .unwrap_or(0) as isize;
        let n = wired.len() as isize;
        self.wire = Some(wired[(at + step).rem_euclid(n) as usize]);
    }

    fn key(&mut self, key: KeyEvent, actions: &SyncSender<String>) -> Step {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let g = self.picture.grid();
        let (rows, cols) = (g.rows, g.cols);
        let (r, c) = self.selected;
        let name = g.tile(self.selected).name.clone();
        let on_wire = |verb: &str| match self.wire {
            Some(d) => Ok(format!("{verb} {name} {d}")),
            None => Err(format!("error: {name} has no wire")),
        };
        let request = match key.code {
            KeyCode::Char('c') if ctrl => return Step::Quit,
            KeyCode::Char('q') | KeyCode::Char('Q') => return Step::Quit,
            KeyCode::Char('c') => Some(on_wire("cut")),
            KeyCode::Char('r') => Some(on_wire("restore")),
            KeyCode::Char('s') => Some(Ok(format!("stop {name}"))),
            KeyCode::Char('t') => Some(Ok(format!("start {name}"))),
            _ => None,
        };
        match request {
            Some(Ok(request)) => {
                self.message = match actions.try_send(request.clone()) {
                    Ok(()) => format!("{request} ..."),
                    Err(TrySendError::Full(_)) => {
                        format!("error: {request}: {ACTIONS} actions are waiting already")
                    }
                    // The actor lives as long as this thread.
                    Err(TrySendError::Disconnected(_)) => format!("error: {request}: not sent"),
                };
            }
            Some(Err(message)) => self.message = message,
            None => {}
        }
        match key.code {
            KeyCode::Left | KeyCode::Char('h') => self.selected = (r, c.saturating_sub(1)),
            KeyCode::Right | KeyCode::Char('l') => self.selected = (r, (c + 1).min(cols - 1)),
            KeyCode::Up | KeyCode::Char('k') => self.selected = (r.saturating_sub(1), c),
            KeyCode::Down | KeyCode::Char('j') => self.selected = ((r + 1).min(rows - 1), c),
            KeyCode::Tab => self.turn(1),
            KeyCode::BackTab => self.turn(-1),
            _ => {}
        }
        self.keep_wire();
        Step::Go
    }
}
