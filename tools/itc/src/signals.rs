//! SIGINT as a request to stop, never lost.
//!
//! [`install`] sets a handler without `SA_RESTART` that only raises a flag,
//! then blocks SIGINT. The signal is let in only while `itc` waits for a
//! file of the tree in `ppoll` ([`wait_mask`]), so a Ctrl-C either ends
//! that wait with `EINTR` or stays pending until the next one: it cannot
//! slip in between checking the flag and starting to wait. Files are read
//! and written only once `ppoll` reports them ready, with `O_NONBLOCK`, so
//! no system call blocks while SIGINT is held back.
//!
//! A `ppoll` that finds the file ready at once returns without letting a
//! pending SIGINT in (the kernel restores the mask before delivering it),
//! so a steady stream of packets, or room to write, would hold a Ctrl-C
//! back for good; [`let_pending_in`] after each ready `ppoll` delivers it.
//!
//! A command that must end cleanly on SIGTERM too (`itc capture`, which
//! has a file to finish) calls [`handle_sigterm_too`] first: SIGTERM is
//! then treated exactly as SIGINT.
//!
//! [`install`] runs only once a packet or events file is open: a blocked
//! SIGINT never interrupts a FUSE request, so `open()` or reading a
//! status file of a stopped `itcd` would ignore Ctrl-C. Before it, and in
//! `status` and `physics`, SIGINT keeps its default action.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Raised by the SIGINT handler.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether SIGTERM is handled as SIGINT is.
static SIGTERM_TOO: AtomicBool = AtomicBool::new(false);

/// The signals handled: SIGINT, and SIGTERM after [`handle_sigterm_too`].
fn handled() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    if SIGTERM_TOO.load(Ordering::SeqCst) {
        set.add(Signal::SIGTERM);
    }
    set
}

/// Makes [`install`] handle SIGTERM as SIGINT; call it before.
pub fn handle_sigterm_too() {
    SIGTERM_TOO.store(true, Ordering::SeqCst);
}

/// The signal mask to wait with: the one the program started with,
/// SIGINT let in.
static WAIT_MASK: OnceLock<SigSet> = OnceLock::new();

extern "C" fn on_sigint(_signal: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the SIGINT handler and blocks SIGINT outside waits.
pub fn install() -> Result<(), Errno> {
    let action = SigAction::new(
        SigHandler::Handler(on_sigint),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is
    // async-signal-safe, and it replaces no handler another part of the
    // program relies on.
    unsafe { sigaction(Signal::SIGINT, &action) }?;
    let block = handled();
    if block.contains(Signal::SIGTERM) {
        // SAFETY: as above.
        unsafe { sigaction(Signal::SIGTERM, &action) }?;
    }
    let mut old = block.thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)?;
    for s in block.iter() {
        old.remove(s);
    }
    let _ = WAIT_MASK.set(old);
    Ok(())
}

/// Unblocks SIGINT for a moment so that a pending one is delivered (and
/// raises the flag), then blocks it again; returns [`interrupted`]. Does
/// nothing before [`install`].
pub fn let_pending_in() -> Result<bool, Errno> {
    if WAIT_MASK.get().is_some() {
        let set = handled();
        // A pending signal is delivered on the return from the call that
        // unblocks it.
        set.thread_unblock()?;
        set.thread_block()?;
    }
    Ok(interrupted())
}

/// Runs `f`, a call that may wait for a FUSE daemon without end (an
/// `open()` of a file of a tree whose `itcd` hangs), with SIGINT back at
/// its default action and unblocked, so Ctrl-C kills `itc` then as it
/// would `cat`; afterwards SIGINT is handled and held back again. A
/// SIGINT already pending is delivered to the handler first and `f` is
/// not run: the result is `None`. Before [`install`], `f` just runs.
pub fn killable<T>(f: impl FnOnce() -> T) -> Result<Option<T>, Errno> {
    if WAIT_MASK.get().is_none() {
        return Ok(Some(f()));
    }
    if let_pending_in()? {
        return Ok(None);
    }
    let set = handled();
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    let mut handlers = Vec::new();
    for s in set.iter() {
        // SAFETY: restoring the default action installs no code.
        handlers.push((s, unsafe { sigaction(s, &default) }?));
    }
    set.thread_unblock()?;
    let out = f();
    set.thread_block()?;
    for (s, handler) in handlers {
        // SAFETY: puts back the handler `install` set, which only stores
        // to an atomic.
        unsafe { sigaction(s, &handler) }?;
    }
    Ok(Some(out))
}

/// Whether SIGINT has arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The mask for `ppoll`: SIGINT deliverable. `None` (keep the current
/// mask) if [`install`] has not run.
pub fn wait_mask() -> Option<SigSet> {
    WAIT_MASK.get().copied()
}
