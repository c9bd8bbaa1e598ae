//! `itc files watch`: follows the daemon's status stream and shows each
//! fetch as it goes. On a terminal, a progress bar per file (pieces, rate,
//! time left, sources) with `indicatif`, finished with "live" when the
//! version goes live; otherwise (a pipe, a file) plain lines, one whenever
//! a file's progress line changes, so scripts can follow it. Runs until
//! interrupted or the daemon stops.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use itc_files::control::{Request, Status};

use crate::errors::Error;
use crate::files_client::Client;
use crate::files_error::FilesError;
use crate::files_show::{duration, progress, rate};
use crate::output;

/// A fetch: name and version.
type Key = (String, u64);

/// Follows the daemon of `client` until it stops.
pub fn run(mut client: Client) -> Result<u8, Error> {
    client.send(&Request::Watch, None)?;
    client.no_timeout()?;
    let mut view: Box<dyn View> = if std::io::stdout().is_terminal() {
        Box::new(Bars::new())
    } else {
        Box::new(Lines::default())
    };
    loop {
        let body = match client.next()? {
            Some(b) => b.to_vec(),
            None => {
                view.done();
                return Err(FilesError::Refused("stopped; no more updates".to_string()).into());
            }
        };
        let status = client.decode_status(&body)?;
        view.show(&status)?;
    }
}

/// Shows successive statuses.
trait View {
    fn show(&mut self, s: &Status) -> Result<(), Error>;
    fn done(&mut self) {}
}

/// The fetches in a status, and the versions live.
fn fetches(
    s: &Status,
) -> (
    BTreeMap<Key, &itc_files::control::Fetch>,
    BTreeMap<&str, u64>,
) {
    let mut fetches = BTreeMap::new();
    let mut live = BTreeMap::new();
    for f in &s.files {
        if let Some(fetch) = &f.fetch {
            fetches.insert((f.name.clone(), fetch.version), fetch);
        }
        if let Some(l) = &f.live {
            live.insert(f.name.as_str(), l.version);
        }
    }
    (fetches, live)
}

/// How a fetch that disappeared ended.
fn ending(key: &Key, live: &BTreeMap<&str, u64>) -> &'static str {
    if live.get(key.0.as_str()) == Some(&key.1) {
        "live"
    } else {
        "dropped (a newer version or a deletion)"
    }
}

/// Plain lines.
#[derive(Default)]
struct Lines {
    last: BTreeMap<Key, String>,
    started: bool,
}

impl View for Lines {
    fn show(&mut self, s: &Status) -> Result<(), Error> {
        let (fetches, live) = fetches(s);
        if !self.started {
            self.started = true;
            if fetches.is_empty() {
                output::line("nothing is being fetched")?;
            }
        }
        let gone: Vec<Key> = self
            .last
            .keys()
            .filter(|k| !fetches.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            self.last.remove(&key);
            output::line(&format!("{} v{}: {}", key.0, key.1, ending(&key, &live)))?;
        }
        for (key, f) in fetches {
            let line = format!("{} v{}: {}", key.0, key.1, progress(f));
            if self.last.get(&key) != Some(&line) {
                output::line(&line)?;
                self.last.insert(key, line);
            }
        }
        Ok(())
    }
}

/// Progress bars on a terminal.
struct Bars {
    multi: MultiProgress,
    bars: BTreeMap<Key, ProgressBar>,
    style: ProgressStyle,
    idle: Option<ProgressBar>,
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
            idle: None,
        }
    }

    fn message(f: &itc_files::control::Fetch) -> String {
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
}

impl View for Bars {
    fn show(&mut self, s: &Status) -> Result<(), Error> {
        let (fetches, live) = fetches(s);
        let gone: Vec<Key> = self
            .bars
            .keys()
            .filter(|k| !fetches.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(bar) = self.bars.remove(&key) {
                bar.finish_with_message(ending(&key, &live));
            }
        }
        if fetches.is_empty() && self.bars.is_empty() && self.idle.is_none() {
            let idle = self.multi.add(ProgressBar::new_spinner());
            idle.set_message("nothing is being fetched");
            self.idle = Some(idle);
        }
        if !fetches.is_empty() {
            if let Some(idle) = self.idle.take() {
                idle.finish_and_clear();
            }
        }
        for (key, f) in fetches {
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
        Ok(())
    }

    fn done(&mut self) {
        for bar in self.bars.values() {
            bar.abandon();
        }
    }
}
