//! `tile-sim ctl`: sends one request to a running grid's control socket
//! (see [`crate::ctl`]) and prints the answer.
//!
//! Exit status: 0 when the answer is `ok` (its lines go to stdout), 1 when
//! it is `error: MESSAGE` (printed to stderr as `tile-sim: MESSAGE`) or the
//! exchange fails, 2 when no `tile-sim` runs at the directory.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::ctl;
use crate::process::{START_DEADLINE, STOP_DEADLINE};

/// How long to wait for an answer: the slowest request plus a margin. A
/// stop waits for two daemons, each perhaps until SIGKILL and as long
/// again; a start waits for two; a publish waits for the daemon to store
/// the file, which `itc_files::client` allows two minutes.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(
    max(
        4 * STOP_DEADLINE.as_secs() + 2 * START_DEADLINE.as_secs(),
        120,
    ) + ctl::IO_TIMEOUT.as_secs(),
);

const fn max(a: u64, b: u64) -> u64 {
    if a > b {
        a
    } else {
        b
    }
}

/// Why a request got no `ok`.
pub enum Failure {
    /// No grid runs at the directory.
    NotRunning(String),
    /// The grid answered with an error, or the exchange broke.
    Failed(String),
}

/// Sends `words` as one request to the grid at `dir`; prints the answer.
pub fn run(dir: &Path, words: &[String]) -> ExitCode {
    let words = match absolute_file(words) {
        Ok(words) => words,
        Err(message) => {
            eprintln!("tile-sim: {message}");
            return ExitCode::from(1);
        }
    };
    match exchange(dir, &words) {
        Ok(lines) => {
            let mut out = io::stdout().lock();
            for line in lines {
                if writeln!(out, "{line}").is_err() {
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Failed(message)) => {
            eprintln!("tile-sim: {message}");
            ExitCode::from(1)
        }
        Err(Failure::NotRunning(message)) => {
            eprintln!("tile-sim: {message}");
            ExitCode::from(2)
        }
    }
}

/// The words with the FILE of `publish TILE FILE` made absolute, since
/// the grid does not share this process's working directory; a FILE with
/// blanks cannot be one word of a request.
fn absolute_file(words: &[String]) -> Result<Vec<String>, String> {
    let mut words = words.to_vec();
    if let [verb, _tile, file, ..] = words.as_mut_slice() {
        if verb == "publish" {
            let path = std::path::absolute(&*file).map_err(|e| format!("{file}: {e}"))?;
            let text = path
                .to_str()
                .filter(|t| !t.contains(char::is_whitespace))
                .ok_or_else(|| {
                    format!(
                        "{}: a file to publish needs a path without blanks (and in UTF-8); link or copy it",
                        path.display()
                    )
                })?;
            *file = text.to_string();
        }
    }
    Ok(words)
}

impl Failure {
    /// What went wrong, in one line.
    pub fn message(&self) -> &str {
        match self {
            Failure::NotRunning(m) | Failure::Failed(m) => m,
        }
    }
}

/// Sends `line` as one request to the grid at `dir`; the answer's lines, or
/// why there are none (for `tile-sim view` and `snapshot`).
pub fn request(dir: &Path, line: &str) -> Result<Vec<String>, Failure> {
    let words: Vec<String> = line.split_whitespace().map(String::from).collect();
    exchange(dir, &words)
}

fn exchange(dir: &Path, words: &[String]) -> Result<Vec<String>, Failure> {
    let request = words.join(" ");
    if request.contains(['\n', '\r']) {
        return Err(Failure::Failed(
            "a request is one line; drop the line breaks".to_string(),
        ));
    }
    // Refused here as the server would, before a long write fails on a
    // connection it has closed (EPIPE).
    if request.len() >= ctl::MAX_REQUEST {
        return Err(Failure::Failed(format!(
            "request longer than {} bytes (commands: {})",
            ctl::MAX_REQUEST,
            ctl::COMMANDS
        )));
    }
    let path = ctl::socket_path(dir);
    let shown = path.display();
    let stream = UnixStream::connect(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Failure::NotRunning(format!(
            "no tile-sim running at {} (no {shown})",
            dir.display()
        )),
        io::ErrorKind::NotADirectory => Failure::NotRunning(format!(
            "no tile-sim running at {} (not a directory)",
            dir.display()
        )),
        io::ErrorKind::ConnectionRefused => Failure::NotRunning(format!(
            "no tile-sim running at {} ({shown} is left from one that is gone)",
            dir.display()
        )),
        _ => Failure::Failed(format!("{shown}: {e}")),
    })?;
    let broken = |e: io::Error| {
        // Socket timeouts come back as EAGAIN.
        if e.kind() == io::ErrorKind::WouldBlock {
            Failure::Failed(format!(
                "no answer from {shown} within {} s: is that tile-sim hung?",
                ANSWER_TIMEOUT.as_secs()
            ))
        } else {
            Failure::Failed(format!("{shown}: {e}"))
        }
    };
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .map_err(broken)?;
    stream
        .set_write_timeout(Some(ctl::IO_TIMEOUT))
        .map_err(broken)?;
    (&stream)
        .write_all(format!("{request}\n").as_bytes())
        .map_err(broken)?;
    let mut lines = BufReader::new(&stream).lines();
    let first = match lines.next() {
        Some(line) => line.map_err(broken)?,
        None => {
            return Err(Failure::Failed(format!(
                "tile-sim at {} closed the connection without answering",
                dir.display()
            )))
        }
    };
    if let Some(message) = first.strip_prefix("error: ") {
        return Err(Failure::Failed(message.to_string()));
    }
    if first != "ok" {
        return Err(Failure::Failed(format!(
            "unexpected answer from {shown}: {first:?}"
        )));
    }
    lines.collect::<Result<Vec<_>, _>>().map_err(broken)
}
