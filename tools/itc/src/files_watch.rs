//! `itc files watch`: follows the daemon's status stream and shows what
//! happens to each file. On a terminal, a progress bar per fetch (pieces,
//! rate, time left, sources) with `indicatif`, finished with "live" when
//! the version goes live; otherwise (a pipe, a file) plain lines, one
//! whenever a fetch's progress line changes, so scripts can follow it.
//! Versions going live and deletions are reported even when they happened
//! between two updates (a small file can arrive whole in between). Runs
//! until interrupted or the daemon stops.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use itc_files::client::Client;
use itc_files::client_error::FilesError;
use itc_files::control::{Fetch, Request, Status};

use crate::errors::Error;
use crate::files_show::{duration, progress, rate};
use crate::output;

/// A fetch: name and version.
type Key = (String, u64);

/// What changed between two statuses.
enum Change<'a> {
    /// A fetch in progress.
    Progress(Key, &'a Fetch),
    /// A version went live.
    Live(Key),
    /// A fetch ended without going live.
    Dropped(Key),
    /// A name was deleted up to a version.
    Deleted(Key),
}

/// What one status held, to compare the next with.
#[derive(Default)]
struct Seen {
    fetches: Vec<Key>,
    live: BTreeMap<String, u64>,
    deleted: BTreeMap<String, u64>,
}

impl Seen {
    fn of(s: &Status) -> Seen {
        let mut seen = Seen::default();
        for f in &s.files {
            if let Some(fetch) = &f.fetch {
                seen.fetches.push((f.name.clone(), fetch.version));
            }
            if let Some(l) = &f.live {
                seen.live.insert(f.name.clone(), l.version);
            }
            if let Some(d) = f.deleted {
                seen.deleted.insert(f.name.clone(), d);
            }
        }
        seen
    }

    /// The changes from `self` to `s` (seen as `now`).
    fn changes<'a>(&self, s: &'a Status, now: &Seen) -> Vec<Change<'a>> {
        let mut out = Vec::new();
        for (name, v) in &now.live {
            if self.live.get(name) != Some(v) {
                out.push(Change::Live((name.clone(), *v)));
            }
        }
        for (name, v) in &now.deleted {
            if self.deleted.get(name) != Some(v) {
                out.push(Change::Deleted((name.clone(), *v)));
            }
        }
        for key in &self.fetches {
            if !now.fetches.contains(key) && now.live.get(&key.0) != Some(&key.1) {
                out.push(Change::Dropped(key.clone()));
            }
        }
        for f in &s.files {
            if let Some(fetch) = &f.fetch {
                out.push(Change::Progress((f.name.clone(), fetch.version), fetch));
            }
        }
        out
    }
}

/// Follows the daemon of `client` until it stops.
pub fn run(mut client: Client) -> Result<u8, Error> {
    client.send(&Request::Watch, None)?;
    client.no_timeout()?;
    let mut view: Box<dyn View> = if std::io::stdout().is_terminal() {
        Box::new(Bars::new())
    } else {
        Box::new(Lines::default())
    };
    let mut seen: Option<Seen> = None;
    loop {
        let body = match client.next_reply()? {
            Some(b) => b.to_vec(),
            None => {
                view.done();
                return Err(FilesError::Refused("stopped; no more updates".to_string()).into());
            }
        };
        let status = client.decode_status(&body)?;
        let now = Seen::of(&status);
        match &seen {
            None => {
                let changes: Vec<Change<'_>> = Seen::changes(&now, &status, &now);
                if now.fetches.is_empty() {
                    view.idle()?;
                }
                view.show(changes)?;
            }
            Some(before) => view.show(before.changes(&status, &now))?,
        }
        seen = Some(now);
    }
}

/// Shows changes.
trait View {
    fn show(&mut self, changes: Vec<Change<'_>>) -> Result<(), Error>;
    /// Nothing is being fetched at the start.
    fn idle(&mut self) -> Result<(), Error>;
    fn done(&mut self) {}
}

/// Plain lines.
#[derive(Default)]
struct Lines {
    last: BTreeMap<Key, String>,
}

impl View for Lines {
    fn show(&mut self, changes: Vec<Change<'_>>) -> Result<(), Error> {
        for c in changes {
            let line = match c {
                Change::Progress(key, f) => {
                    let line = format!("{} v{}: {}", key.0, key.1, progress(f));
                    if self.last.get(&key) == Some(&line) {
                        continue;
                    }
                    self.last.insert(key, line.clone());
                    line
                }
                Change::Live(key) => {
                    self.last.remove(&key);
                    format!("{} v{}: live", key.0, key.1)
                }
                Change::Dropped(key) => {
                    self.last.remove(&key);
                    format!(
                        "{} v{}: dropped for a newer version or a deletion",
                        key.0, key.1
                    )
                }
                Change::Deleted((name, v)) => format!("{name}: deleted up to v{v}"),
            };
            output::line(&line)?;
        }
        Ok(())
    }

    fn idle(&mut self) -> Result<(), Error> {
        output::line("nothing is being fetched")
    }
}

/// Progress bars on a terminal.
struct Bars {
    multi: MultiProgress,
    bars: BTreeMap<Key, ProgressBar>,
    style: ProgressStyle,
}

impl Bars {
    fn new() -> Bars {
        let style = ProgressStyle::with_template(
            "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} pieces {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            bars: BTreeMap::new(),
            style,
        }
    }

    fn message(f: &Fetch) -> String {
        let mut parts = Vec::new();
        match f.state.as_str() {
            "manifest" => parts.push("(manifest)".to_string()),
            "waiting" => parts.push("(waiting for disk space)".to_string()),
            _ => {}
        }
        if f.rate > 0.0 {
            parts.push(rate(f.rate));
        }
        if let Some(eta) = f.eta_secs {
            parts.push(format!("{} left", duration(eta)));
        }
        parts.push(if f.sources.is_empty() {
            "no source".to_string()
        } else {
            format!("from {}", f.sources.join(" "))
        });
        if let Some(e) = &f.error {
            parts.push(e.clone());
        }
        parts.join(", ")
    }

    /// Ends the bar of `key` with `message`, or prints it as a line.
    fn end(&mut self, key: &Key, message: &str) {
        match self.bars.remove(key) {
            Some(bar) => bar.finish_with_message(message.to_string()),
            None => {
                let _ = self
                    .multi
                    .println(format!("{} v{}: {message}", key.0, key.1));
            }
        }
    }
}

impl View for Bars {
    fn show(&mut self, changes: Vec<Change<'_>>) -> Result<(), Error> {
        for c in changes {
            match c {
                Change::Progress(key, f) => {
                    let bar = self.bars.entry(key.clone()).or_insert_with(|| {
                        let bar = self.multi.add(ProgressBar::new(u64::from(f.total)));
                        bar.set_style(self.style.clone());
                        bar.set_prefix(format!("{} v{}", key.0, key.1));
                        bar
                    });
                    bar.set_length(u64::from(f.total));
                    bar.set_position(u64::from(f.pieces));
                    bar.set_message(Bars::message(f));
                }
                Change::Live(key) => self.end(&key, "live"),
                Change::Dropped(key) => self.end(&key, "dropped for a newer version or a deletion"),
                Change::Deleted((name, v)) => {
                    let _ = self.multi.println(format!("{name}: deleted up to v{v}"));
                }
            }
        }
        Ok(())
    }

    fn idle(&mut self) -> Result<(), Error> {
        let _ = self.multi.println("nothing is being fetched");
        Ok(())
    }

    fn done(&mut self) {
        for bar in self.bars.values() {
            bar.abandon();
        }
    }
}
