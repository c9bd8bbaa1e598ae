//! The FUSE session: requests in, replies out, from one thread.
//!
//! [`Server::process`] reads every queued request from the nonblocking FUSE
//! device and answers it through the [`Backend`]. A read or write the backend
//! cannot complete yet is *parked* with its request; [`Server::service`]
//! retries parked requests of the handles the backend reports as changed and
//! sends poll wakeups. `FUSE_INTERRUPT` answers the parked request with
//! `EINTR` at once, so a reader blocked in the tree dies promptly on a signal.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use polyfuse::op::{self, Operation};
use polyfuse::reply::{
    AttrOut, EntryOut, FileAttr, OpenOut, PollOut, ReaddirOut, StatfsOut, WriteOut,
};
use polyfuse::{Notifier, Request, Session};

use crate::mount;

use crate::backend::{Backend, Errno, Fh};
use crate::tree::{FileKind, Node};

/// How long the kernel may cache names and attributes: the tree never
/// changes shape while mounted.
const TTL: Duration = Duration::from_secs(3600);

/// The size packet files report: the largest packet. The kernel takes an
/// exclusive (uninterruptible) inode lock for a direct write that goes past
/// the size, and a shared one otherwise; with the size at 0 a second writer
/// of a file could not be killed while the first one waits for room.
const PACKET_FILE_SIZE: u64 = 255;

/// The size batched packet files report: the most one request carries
/// (256 pages). A write past the size would take the exclusive inode lock
/// (see [`PACKET_FILE_SIZE`]).
const BATCH_FILE_SIZE: u64 = 1 << 20;

/// How long an open waits for a just-closed holder's release before it
/// fails with `EBUSY`.
const OPEN_GRACE: Duration = Duration::from_millis(500);

/// Ownership of the tree's nodes.
#[derive(Debug, Clone, Copy)]
pub struct Ownership {
    /// Owner of every node.
    pub uid: u32,
    /// Group of every node.
    pub gid: u32,
}

/// What [`Server::process`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The device has no more requests for now.
    Idle,
    /// The batch limit was reached with requests still waiting: call again
    /// after the caller's other work (the device may not signal again).
    More,
    /// The file system was unmounted from outside.
    Unmounted,
}

enum Parked {
    Read(Request),
    Write(Request),
}

impl Parked {
    fn request(&self) -> &Request {
        match self {
            Parked::Read(r) | Parked::Write(r) => r,
        }
    }
}

/// A mounted tree and the requests waiting in it.
pub struct Server {
    session: Session,
    notifier: Notifier,
    owner: Ownership,
    mounted_at: Duration,
    parked: HashMap<Fh, VecDeque<Parked>>,
    poll_handles: HashMap<Fh, u64>,
    /// Opens waiting for a just-closed holder's release, with deadlines.
    parked_opens: Vec<(Request, Instant)>,
    /// Accepted writes whose replies wait for [`Server::finish_writes`].
    accepted: Vec<(Request, u32)>,
    changed: Vec<Fh>,
    scratch: Vec<u8>,
    /// Where requests are read from the device, kept from one to the next.
    request_buf: Vec<u8>,
}

impl AsRawFd for Server {
    fn as_raw_fd(&self) -> RawFd {
        self.session.as_raw_fd()
    }
}

impl Server {
    /// Serve a tree mounted by [`crate::mount()`]; the device is switched
    /// to nonblocking mode.
    pub fn new(session: mount::Session, owner: Ownership) -> io::Result<Server> {
        let session = session.inner;
        crate::sys::set_nonblocking(session.as_raw_fd())?;
        let notifier = session.notifier();
        let mounted_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Ok(Server {
            session,
            notifier,
            owner,
            mounted_at,
            parked: HashMap::new(),
            poll_handles: HashMap::new(),
            parked_opens: Vec::new(),
            accepted: Vec::new(),
            changed: Vec::new(),
            scratch: Vec::with_capacity(4096),
            request_buf: Vec::new(),
        })
    }

    /// Number of requests currently parked (blocked readers and writers).
    pub fn parked_count(&self) -> usize {
        self.parked.values().map(VecDeque::len).sum::<usize>() + self.parked_opens.len()
    }

    /// Answer the writes accepted since the last call. The caller first
    /// moves the written packets on (e.g. to the link), so the writer is
    /// woken only after its packet has left: on one CPU this keeps the
    /// writer from running ahead of the daemon.
    pub fn finish_writes(&mut self) {
        for (req, n) in self.accepted.drain(..) {
            let mut out = WriteOut::default();
            out.size(n);
            reply(&req, out);
        }
    }

    /// When [`Server::expire`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.parked_opens.iter().map(|(_, d)| *d).min()
    }

    /// Fail the parked opens whose grace ran out with `EBUSY`.
    pub fn expire(&mut self, now: Instant) {
        self.parked_opens.retain(|(req, deadline)| {
            if *deadline <= now {
                reply_err(req, Errno::EBUSY);
                false
            } else {
                true
            }
        });
    }

    /// Answer the requests queued on the device, at most `batch` of them,
    /// so a busy writer cannot starve the caller's event loop.
    pub fn process(&mut self, backend: &mut dyn Backend, batch: usize) -> io::Result<Progress> {
        for _ in 0..batch {
            let req = match self.session.next_request_into(&mut self.request_buf) {
                Ok(Some(req)) => req,
                Ok(None) => return Ok(Progress::Unmounted),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Progress::Idle),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.dispatch(req, backend);
        }
        Ok(Progress::More)
    }

    /// Retry parked requests of changed handles and wake their pollers.
    pub fn service(&mut self, backend: &mut dyn Backend) {
        let mut changed = std::mem::take(&mut self.changed);
        loop {
            changed.clear();
            backend.take_changed(&mut changed);
            if changed.is_empty() {
                break;
            }
            changed.sort_unstable();
            changed.dedup();
            for &fh in &changed {
                self.retry_parked(fh, backend);
                if let Some(&kh) = self.poll_handles.get(&fh) {
                    tracing::trace!("poll wakeup for handle {fh} kh {kh}");
                    if let Err(e) = self.notifier.poll_wakeup(kh) {
                        tracing::debug!("poll wakeup for handle {fh}: {e}");
                    }
                }
            }
        }
        self.changed = changed;
        self.finish_writes();
        if !self.parked_opens.is_empty() {
            let waiting = std::mem::take(&mut self.parked_opens);
            for (req, deadline) in waiting {
                if let Err(Errno::EAGAIN) = try_open(&req, backend) {
                    self.parked_opens.push((req, deadline));
                }
            }
        }
    }

    fn retry_parked(&mut self, fh: Fh, backend: &mut dyn Backend) {
        let Some(queue) = self.parked.get_mut(&fh) else {
            return;
        };
        // Reads and writes wait for different things (a queued packet, room
        // in an outbound queue): a blocked write must not hold up a read of
        // the same handle, nor the reverse. Each kind keeps its own order.
        let (mut reads_wait, mut writes_wait) = (false, false);
        let mut still = VecDeque::new();
        while let Some(parked) = queue.pop_front() {
            let waits = match parked {
                Parked::Read(_) => &mut reads_wait,
                Parked::Write(_) => &mut writes_wait,
            };
            if *waits {
                still.push_back(parked);
                continue;
            }
            let outcome = match &parked {
                Parked::Read(req) => try_read(req, backend, &mut self.scratch).map(|()| 0),
                Parked::Write(req) => try_write(req, backend),
            };
            match outcome {
                Err(Errno::EAGAIN) => {
                    *waits = true;
                    still.push_back(parked);
                }
                Ok(n) => {
                    if let Parked::Write(req) = parked {
                        self.accepted.push((req, n));
                    }
                }
                Err(_) => {}
            }
        }
        if still.is_empty() {
            self.parked.remove(&fh);
        } else {
            *queue = still;
        }
    }

    fn dispatch(&mut self, req: Request, backend: &mut dyn Backend) {
        let op = match req.operation() {
            Ok(op) => op,
            Err(e) => {
                // An opcode this server does not know (e.g. FUSE_STATX on
                // newer kernels): ENOSYS makes the kernel fall back.
                tracing::debug!("undecodable FUSE request: {e}");
                reply_err(&req, Errno::ENOSYS);
                return;
            }
        };
        match op {
            Operation::Lookup(op) => {
                let found = Node::from_ino(op.parent())
                    .filter(|p| p.is_dir())
                    .and_then(|p| p.lookup(op.name().as_encoded_bytes()));
                match found {
                    Some(node) => {
                        let mut out = EntryOut::default();
                        self.fill_attr(out.attr(), node);
                        out.ino(node.ino());
                        out.ttl_attr(TTL);
                        out.ttl_entry(TTL);
                        reply(&req, out);
                    }
                    None => reply_err(&req, Errno::ENOENT),
                }
            }
            Operation::Getattr(op) => self.reply_attr(&req, op.ino()),
            Operation::Setattr(op) => self.setattr(&req, &op),
            Operation::Open(_) => {
                if let Err(Errno::EAGAIN) = try_open(&req, backend) {
                    self.parked_opens.push((req, Instant::now() + OPEN_GRACE));
                }
            }
            Operation::Read(op) => {
                let nonblock = op.flags() as i32 & libc::O_NONBLOCK != 0;
                let fh = op.fh();
                match try_read(&req, backend, &mut self.scratch) {
                    Err(Errno::EAGAIN) if !nonblock => {
                        self.parked
                            .entry(fh)
                            .or_default()
                            .push_back(Parked::Read(req));
                    }
                    Err(Errno::EAGAIN) => reply_err(&req, Errno::EAGAIN),
                    _ => {}
                }
            }
            Operation::Write(op, _) => {
                let nonblock = op.flags() as i32 & libc::O_NONBLOCK != 0;
                let fh = op.fh();
                match try_write(&req, backend) {
                    Ok(n) => self.accepted.push((req, n)),
                    Err(Errno::EAGAIN) if !nonblock => {
                        self.parked
                            .entry(fh)
                            .or_default()
                            .push_back(Parked::Write(req));
                    }
                    Err(Errno::EAGAIN) => reply_err(&req, Errno::EAGAIN),
                    _ => {}
                }
            }
            Operation::Poll(op) => {
                let fh = op.fh();
                if let Some(kh) = op.kh() {
                    self.poll_handles.insert(fh, kh);
                }
                let mut out = PollOut::default();
                let revents = backend.poll(fh).revents() & (op.events() | libc::POLLERR as u32);
                tracing::trace!("poll handle {fh} kh {:?}: {revents:#x}", op.kh());
                out.revents(revents);
                reply(&req, out);
            }
            Operation::Interrupt(op) => {
                tracing::debug!("interrupt for request {}", op.unique());
                self.interrupt(op.unique());
            }
            Operation::Flush(op) => {
                backend.flush(op.fh());
                reply(&req, ());
            }
            Operation::Fsync(_) | Operation::Fsyncdir(_) => reply(&req, ()),
            Operation::Release(op) => {
                let fh = op.fh();
                if let Some(queue) = self.parked.remove(&fh) {
                    for parked in queue {
                        reply_err(parked.request(), Errno::EBADF);
                    }
                }
                self.poll_handles.remove(&fh);
                backend.release(fh);
                reply(&req, ());
            }
            Operation::Opendir(op) => match Node::from_ino(op.ino()) {
                Some(node) if node.is_dir() => {
                    let mut out = OpenOut::default();
                    out.fh(0);
                    out.cache_dir(true);
                    reply(&req, out);
                }
                Some(_) => reply_err(&req, Errno(libc::ENOTDIR)),
                None => reply_err(&req, Errno::ENOENT),
            },
            Operation::Readdir(op) => self.readdir(&req, &op),
            Operation::Releasedir(_) => reply(&req, ()),
            Operation::Statfs(_) => {
                let mut out = StatfsOut::default();
                out.statfs().namelen(255);
                out.statfs().bsize(4096);
                reply(&req, out);
            }
            Operation::Forget(_) => {}
            // The tree is fixed at mount time: nothing can be created,
            // removed, renamed or linked. EPERM, as the kernel answers for
            // a directory without these operations (sysfs); ENOSYS would
            // read "Function not implemented", which looks like a bug.
            Operation::Create(_)
            | Operation::Mknod(_)
            | Operation::Mkdir(_)
            | Operation::Symlink(_)
            | Operation::Link(_)
            | Operation::Unlink(_)
            | Operation::Rmdir(_)
            | Operation::Rename(_) => reply_err(&req, Errno::EPERM),
            _ => reply_err(&req, Errno::ENOSYS),
        }
    }

    fn interrupt(&mut self, unique: u64) {
        if let Some(pos) = self
            .parked_opens
            .iter()
            .position(|(r, _)| r.unique() == unique)
        {
            let (req, _) = self.parked_opens.swap_remove(pos);
            reply_err(&req, Errno::EINTR);
            return;
        }
        // The target was either answered already (nothing to do) or is
        // parked: answer it with EINTR so the caller's signal takes effect.
        let mut hit = None;
        for (fh, queue) in self.parked.iter_mut() {
            if let Some(pos) = queue.iter().position(|p| p.request().unique() == unique) {
                if let Some(parked) = queue.remove(pos) {
                    reply_err(parked.request(), Errno::EINTR);
                }
                hit = Some((*fh, queue.is_empty()));
                break;
            }
        }
        if let Some((fh, true)) = hit {
            self.parked.remove(&fh);
        }
    }

    fn fill_attr(&self, attr: &mut FileAttr, node: Node) {
        let kind = if node.is_dir() {
            libc::S_IFDIR
        } else {
            libc::S_IFREG
        };
        attr.ino(node.ino());
        attr.mode(kind | node.mode());
        attr.nlink(node.nlink());
        attr.uid(self.owner.uid);
        attr.gid(self.owner.gid);
        attr.size(match node {
            Node::File(kind) if kind.is_batched() => BATCH_FILE_SIZE,
            Node::File(kind) if kind.is_packet_file() => PACKET_FILE_SIZE,
            _ => 0,
        });
        attr.blksize(4096);
        attr.atime(self.mounted_at);
        attr.mtime(self.mounted_at);
        attr.ctime(self.mounted_at);
    }

    fn reply_attr(&self, req: &Request, ino: u64) {
        match Node::from_ino(ino) {
            Some(node) => {
                let mut out = AttrOut::default();
                self.fill_attr(out.attr(), node);
                out.ttl(TTL);
                reply(req, out);
            }
            None => reply_err(req, Errno::ENOENT),
        }
    }

    fn setattr(&self, req: &Request, op: &op::Setattr<'_>) {
        // Only truncation (from O_TRUNC) is accepted, and ignored: files have
        // no stored content. Ownership and modes are fixed by the daemon.
        if op.mode().is_some() || op.uid().is_some() || op.gid().is_some() {
            reply_err(req, Errno::EPERM);
            return;
        }
        if op.size().is_some() && !matches!(Node::from_ino(op.ino()), Some(Node::File(_))) {
            reply_err(req, Errno::EISDIR);
            return;
        }
        self.reply_attr(req, op.ino());
    }

    fn readdir(&self, req: &Request, op: &op::Readdir<'_>) {
        let Some(node) = Node::from_ino(op.ino()).filter(|n| n.is_dir()) else {
            reply_err(req, Errno(libc::ENOTDIR));
            return;
        };
        let mut entries = vec![(".".to_string(), node), ("..".to_string(), node.parent())];
        entries.extend(node.children());
        let mut out = ReaddirOut::new(op.size() as usize);
        for (i, (name, child)) in entries.iter().enumerate().skip(first_entry(op.offset())) {
            let typ = if child.is_dir() {
                libc::DT_DIR
            } else {
                libc::DT_REG
            };
            if out.entry(OsStr::new(name), child.ino(), u32::from(typ), i as u64 + 1) {
                break;
            }
        }
        reply(req, out);
    }
}

/// The index of the first directory entry to list for a `readdir` at
/// `offset` (the offset an earlier reply gave, or 0). An offset past what
/// `usize` holds (on a 32-bit target) lists nothing, rather than being
/// truncated to an early index and listing entries again for ever.
fn first_entry(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

fn try_open(req: &Request, backend: &mut dyn Backend) -> Result<(), Errno> {
    let Ok(Operation::Open(op)) = req.operation() else {
        reply_err(req, Errno::EINVAL);
        return Err(Errno::EINVAL);
    };
    let opened = match Node::from_ino(op.ino()) {
        Some(Node::File(kind)) => backend.open(kind, op.flags() as i32).map(|fh| (kind, fh)),
        Some(_) => Err(Errno::EISDIR),
        None => Err(Errno::ENOENT),
    };
    match opened {
        Ok((kind, fh)) => {
            // Every file is generated or a packet stream: never let the
            // page cache hold any of it. Packet, events and capture files are
            // streams without a file position, so the kernel does not
            // serialise calls on one descriptor: a thread blocked in
            // read() must not hold up another thread's write().
            let mut flags = OpenFlags::DIRECT_IO;
            if kind.is_packet_file() || matches!(kind, FileKind::Events(_) | FileKind::Capture) {
                flags |= OpenFlags::STREAM | OpenFlags::NONSEEKABLE;
            }
            if kind.is_packet_file() {
                flags |= OpenFlags::PARALLEL_DIRECT_WRITES;
            }
            reply(req, &open_out(fh, flags)[..]);
            Ok(())
        }
        Err(Errno::EAGAIN) => Err(Errno::EAGAIN),
        Err(e) => {
            reply_err(req, e);
            Err(e)
        }
    }
}

bitflags::bitflags! {
    /// `FOPEN_*` bits of `fuse_open_out` (`linux/fuse.h`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct OpenFlags: u32 {
        /// Bypass the page cache.
        const DIRECT_IO = 1 << 0;
        /// No file position: `lseek` fails.
        const NONSEEKABLE = 1 << 2;
        /// A stream: calls on one descriptor are not serialised.
        const STREAM = 1 << 4;
        /// Direct writes of one file may run in parallel.
        const PARALLEL_DIRECT_WRITES = 1 << 6;
    }
}

/// The reply to an open, `fuse_open_out`: handle, `FOPEN_*` flags, 4 bytes
/// of padding. Built here because polyfuse's `OpenOut` cannot set
/// `FOPEN_STREAM`.
fn open_out(fh: Fh, flags: OpenFlags) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&fh.to_ne_bytes());
    out[8..12].copy_from_slice(&flags.bits().to_ne_bytes());
    out
}

fn try_read(req: &Request, backend: &mut dyn Backend, scratch: &mut Vec<u8>) -> Result<(), Errno> {
    let Ok(Operation::Read(op)) = req.operation() else {
        reply_err(req, Errno::EINVAL);
        return Err(Errno::EINVAL);
    };
    scratch.clear();
    match backend.read(op.fh(), op.offset(), op.size(), scratch) {
        Ok(()) => {
            reply(req, &scratch[..]);
            Ok(())
        }
        Err(Errno::EAGAIN) => Err(Errno::EAGAIN),
        Err(e) => {
            reply_err(req, e);
            Err(e)
        }
    }
}

fn try_write(req: &Request, backend: &mut dyn Backend) -> Result<u32, Errno> {
    let Ok(Operation::Write(op, mut data)) = req.operation() else {
        reply_err(req, Errno::EINVAL);
        return Err(Errno::EINVAL);
    };
    // The written bytes, in place in the request.
    let buf = match io::BufRead::fill_buf(&mut data) {
        Ok(buf) if buf.len() == op.size() as usize => buf,
        _ => {
            reply_err(req, Errno::EINVAL);
            return Err(Errno::EINVAL);
        }
    };
    match backend.write(op.fh(), op.offset(), buf) {
        Ok(n) => Ok(n),
        Err(Errno::EAGAIN) => Err(Errno::EAGAIN),
        Err(e) => {
            reply_err(req, e);
            Err(e)
        }
    }
}

fn reply<T: polyfuse::bytes::Bytes>(req: &Request, out: T) {
    if let Err(e) = req.reply(out) {
        // ENOENT: the request was interrupted and already forgotten by the
        // kernel; nothing is lost.
        tracing::debug!("reply to FUSE request {}: {e}", req.unique());
    }
}

fn reply_err(req: &Request, e: Errno) {
    if let Err(err) = req.reply_error(e.0) {
        tracing::debug!("error reply to FUSE request {}: {err}", req.unique());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readdir_offsets_are_never_truncated() {
        assert_eq!(first_entry(0), 0);
        assert_eq!(first_entry(3), 3);
        // On a 32-bit target `as usize` made this 1: entries again.
        let past = u64::from(u32::MAX) + 2;
        assert!(first_entry(past) > 1);
        assert_eq!(first_entry(u64::MAX), usize::MAX);
        assert_eq!(first_entry(past) as u64 == past, usize::BITS == 64);
    }
}
