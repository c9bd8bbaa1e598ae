//! A tile whose PRUs the test plays by hand: bare seqpacket endpoints that
//! never read unless told, so `itcd`'s outbound queues fill for certain.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use itc_proto::Dir;

use super::{TempDir, TileProc, DEADLINE};

/// A bare PRU endpoint: a seqpacket listener and `itcd`'s connection.
pub struct RawPru {
    pub listener: OwnedFd,
    pub conn: Option<OwnedFd>,
    pub path: PathBuf,
}

impl RawPru {
    pub fn bind(path: PathBuf) -> RawPru {
        use nix::sys::socket::*;
        let fd = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        bind(fd.as_raw_fd(), &UnixAddr::new(&path).unwrap()).unwrap();
        listen(&fd, Backlog::new(4).unwrap()).unwrap();
        RawPru {
            listener: fd,
            conn: None,
            path,
        }
    }

    /// Accept `itcd`'s connection and its empty start message.
    pub fn accept(&mut self) {
        let fd = nix::sys::socket::accept(self.listener.as_raw_fd()).unwrap();
        // SAFETY: accept returned a new descriptor that nothing else owns.
        self.conn = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        // This stand-in is a PRU that does not batch: it ignores the
        // framing offer (0xc6 0x01) that comes before the start message.
        let offer = itc_proto::pru_batch::framing_bytes(itc_proto::pru_batch::FRAMING_BATCHED);
        let mut buf = [0u8; 8];
        let mut n = nix::sys::socket::recv(
            self.conn_fd(),
            &mut buf,
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        if buf[..n] == offer {
            n = nix::sys::socket::recv(
                self.conn_fd(),
                &mut buf,
                nix::sys::socket::MsgFlags::empty(),
            )
            .unwrap();
        }
        assert_eq!(n, 0, "the start message is empty");
    }

    pub fn conn_fd(&self) -> i32 {
        self.conn.as_ref().expect("connected").as_raw_fd()
    }

    /// Read and discard every message waiting from `itcd`; how many.
    pub fn drain(&self) -> usize {
        self.take().len()
    }

    /// Take every message waiting from `itcd`.
    pub fn take(&self) -> Vec<Vec<u8>> {
        let mut buf = [0u8; 512];
        let mut got = Vec::new();
        while let Ok(n) = nix::sys::socket::recv(
            self.conn_fd(),
            &mut buf,
            nix::sys::socket::MsgFlags::MSG_DONTWAIT,
        ) {
            got.push(buf[..n].to_vec());
        }
        got
    }

    /// Send one message to `itcd`.
    pub fn send(&self, msg: &[u8]) {
        nix::sys::socket::send(self.conn_fd(), msg, nix::sys::socket::MsgFlags::empty()).unwrap();
    }
}

/// One `itcd` on two [`RawPru`]s: a neighbour at ET is made present by
/// hand.
pub struct HandTile {
    // Field order is drop order: stop the daemon and unmount before the
    // directory holding the mount and the sockets is removed.
    pub tile: TileProc,
    pub pru0: RawPru,
    pub pru1: RawPru,
    _dir: TempDir,
}

impl HandTile {
    /// A hand tile with queues of `queue_bytes` whose timers stay quiet
    /// for the length of a test (hellos a minute apart, absence after ten).
    pub fn quiet(queue_bytes: usize) -> HandTile {
        let bytes = queue_bytes.to_string();
        HandTile::start(
            "--name=H",
            "H",
            &[
                "--queue-bytes",
                &bytes,
                "--hello-ms",
                "60000",
                "--absent-ms",
                "600000",
            ],
        )
    }

    /// `itcd NAME_ARG EXTRA...` on two raw PRUs; `name` is what
    /// `itc/self` must show.
    pub fn start(name_arg: &str, name: &str, extra: &[&str]) -> HandTile {
        let dir = TempDir::new("hand");
        let mut pru0 = RawPru::bind(dir.0.join("p0"));
        let mut pru1 = RawPru::bind(dir.0.join("p1"));
        let mount = dir.0.join("m");
        std::fs::create_dir_all(&mount).unwrap();
        let mut args: Vec<String> = [
            "--pru0",
            &pru0.path.display().to_string(),
            "--pru1",
            &pru1.path.display().to_string(),
            "--mount",
            &mount.display().to_string(),
            name_arg,
            "--log-level",
            "debug",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut tile = TileProc {
            name: name.into(),
            mount,
            child: None,
            args,
            log: dir.0.join("H.log"),
        };
        // itcd connects before mounting and sends its start message after.
        let starter = std::thread::spawn(move || {
            pru0.accept();
            pru1.accept();
            (pru0, pru1)
        });
        tile.start();
        let (pru0, pru1) = starter.join().unwrap();
        HandTile {
            tile,
            pru0,
            pru1,
            _dir: dir,
        }
    }

    /// Make a neighbour at ET present: sync, then a hello.
    pub fn neighbour_et(&self) {
        self.pru0.send(&[0xc3, b'P', Dir::ET.dir8()]);
        // hello: header, svc 1, version 1, name "Z", physics "".
        self.pru0.send(&[0x80 | Dir::ET.dir8(), 1, 1, 1, b'Z', 0]);
        let t = &self.tile;
        assert!(
            super::wait_for(DEADLINE, || t.dir_status(Dir::ET, "peer") == "present"),
            "hand-made neighbour present"
        );
    }
}
