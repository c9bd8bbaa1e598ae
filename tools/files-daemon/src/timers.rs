//! The daemon's timer tokens, set through the service library's timers
//! ([`itc_service::Service::set_timer`]), and which part each belongs to.

/// Transfers: a request deadline, a refused piece's delay or a pause is due.
pub const PUMP: u64 = 1;
/// Announce what changed (coalesced).
pub const ANNOUNCE: u64 = 2;
/// Announce everything to every neighbour (periodic, with jitter).
pub const PERIODIC: u64 = 3;
/// Try again what a full disk stopped.
pub const DISK_RETRY: u64 = 4;
/// Send the status to the control clients that watch it.
pub const WATCH: u64 = 5;
/// Announce the recent changes once more.
pub const RECAP: u64 = 6;
/// Hook run `n` ran out of time: token `HOOK_BASE + n`.
pub const HOOK_BASE: u64 = 1 << 32;
