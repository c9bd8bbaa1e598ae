//! What the emulator's tests share: a scratch directory and a stand-in
//! for one `itcd` PRU connection (a plain blocking seqpacket client).
#![allow(dead_code)] // each test file uses a different part

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use itc_proto::field;
use nix::errno::Errno;
use nix::sys::socket::{
    connect, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockType,
    UnixAddr,
};
use nix::sys::time::{TimeVal, TimeValLike};

/// How long any expected event may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Link status (and monitor) messages.
pub const STATUS: u8 = field::TYPE_LINK_STATUS;

pub fn deadline() -> Instant {
    Instant::now() + TIMEOUT
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TestDir(pub PathBuf);

impl TestDir {
    pub fn new() -> TestDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("itcsim-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create test dir");
        TestDir(path)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A stand-in for one `itcd` PRU connection: a blocking seqpacket client.
pub struct Host {
    fd: OwnedFd,
}

impl Host {
    pub fn connect(path: &Path) -> Host {
        let fd = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .expect("socket");
        let addr = UnixAddr::new(path).expect("socket address");
        connect(fd.as_raw_fd(), &addr).expect("connect to PRU socket");
        Host { fd }
    }

    pub fn send(&self, msg: &[u8]) {
        let n = send(self.fd.as_raw_fd(), msg, MsgFlags::empty()).expect("send");
        assert_eq!(n, msg.len());
    }

    pub fn start(&self) {
        self.send(&[]);
    }

    /// The next message, or `None` if none arrives by `deadline`. End of
    /// file reads as an empty message.
    pub fn recv_by(&self, deadline: Instant) -> Option<Vec<u8>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // A zero timeout would mean "block forever".
            let micros = left.as_micros().clamp(1, i64::MAX as u128) as i64;
            setsockopt(
                &self.fd,
                sockopt::ReceiveTimeout,
                &TimeVal::microseconds(micros),
            )
            .expect("SO_RCVTIMEO");
            let mut buf = [0u8; 1024];
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => return Some(buf[..n].to_vec()),
                Err(Errno::EAGAIN) => return None,
                Err(Errno::EINTR) => continue,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }

    /// The next message that is not a monitor report.
    pub fn next(&self) -> Vec<u8> {
        let end = deadline();
        loop {
            let m = self.recv_by(end).expect("a message from the PRU in time");
            if !m.starts_with(&[STATUS, b'M']) {
                return m;
            }
        }
    }

    /// The next `n` messages that are not monitor reports.
    pub fn take(&self, n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|_| self.next()).collect()
    }
}
