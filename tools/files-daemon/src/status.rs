//! The status report (`itc_files::control::Status`) built from the node's
//! state, the service library's counters and the store's hook records.
//! Reads only; the hook records are small files read on each report.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use itc_files::control::{self, FileStatus, Live, Status, STATUS_FORMAT};
use itc_files::Name;
use itc_service::Service;

use crate::fetches::Fetch;
use crate::node::Node;

/// Where the daemon runs, for the report.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The store directory.
    pub store: &'a Path,
    /// The tree's mount point.
    pub mount: &'a Path,
    /// When the daemon started.
    pub started: Instant,
}

/// The report as it stands.
pub fn build(node: &Node, svc: &Service, ctx: &Context<'_>) -> Status {
    let now = Instant::now();
    let mut names: BTreeSet<Name> = node.versions.names().map(|(n, _)| n.clone()).collect();
    names.extend(node.store.names());
    names.extend(node.fetches.iter().map(|f| f.name.clone()));
    let files = names
        .into_iter()
        .map(|name| FileStatus {
            live: node.store.installed(&name).map(|m| Live {
                version: m.version(),
                id: m.id().to_string(),
                length: m.length(),
                path: node.store.live_path(&name).display().to_string(),
            }),
            deleted: node.store.tombstone(&name).map(|t| t.version()),
            fetch: node.fetches.newest_for(&name).map(|f| fetch(f, now)),
            hook: node.store.hooks().last(&name).map(|r| control::Hook {
                version: r.stamp.version,
                status: r.status,
            }),
            name: name.to_string(),
        })
        .collect();
    let mut errors: Vec<String> = node
        .fetches
        .iter()
        .filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.name)))
        .collect();
    errors.dedup();
    let stats = svc.stats();
    Status {
        format: STATUS_FORMAT,
        store: ctx.store.display().to_string(),
        mount: ctx.mount.display().to_string(),
        online: svc.is_online(),
        neighbours: svc.neighbours().map(|d| d.to_string()).collect(),
        keys: node.keys_ids(),
        uptime_secs: now.duration_since(ctx.started).as_secs(),
        files,
        errors,
        counters: node
            .counters
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        bad_input: node
            .counters
            .bad_fields()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        service: stats
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    }
}

fn fetch(f: &Fetch, now: Instant) -> control::Fetch {
    let m = f.transfer.manifest().or(f.waiting.as_ref());
    let (length, total) = m.map_or((0, 0), |m| (m.length(), m.piece_count()));
    let pieces = if f.is_staged() {
        f.transfer.verified().count()
    } else {
        0
    };
    let have_bytes = m.map_or(0, |m| {
        (0..m.piece_count())
            .filter(|i| f.transfer.verified().contains(*i))
            .map(|i| u64::from(m.piece_len(i)))
            .sum::<u64>()
    });
    let rate = f.rate.per_sec(now);
    let eta_secs = (rate > 0.0 && length > 0).then(|| (length - have_bytes) as f64 / rate);
    let state = if f.waiting.is_some() {
        "waiting"
    } else if !f.is_staged() {
        "manifest"
    } else if f.transfer.is_complete() {
        "installing"
    } else {
        "pieces"
    };
    control::Fetch {
        version: f.stamp.version,
        id: f.stamp.id.to_string(),
        state: state.to_string(),
        length,
        pieces,
        total,
        fetched: f.fetched,
        rate,
        eta_secs,
        sources: f.transfer.sources().map(|d| d.to_string()).collect(),
        error: f.error.clone(),
    }
}
