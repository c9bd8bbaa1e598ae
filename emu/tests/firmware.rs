//! The firmware model driven through its sockets, with plain seqpacket
//! client sockets standing in for each tile's `itcd`.

mod common;

use std::time::Duration;

use common::{deadline, Host, TestDir};
use itc_emu::{Error, FirmwareModel, LinkParams, Wires};
use itc_proto::{field, BounceReason, Dir, Pru};
use pru_firmware::{MAX_PACKET, MAX_RPMSG_MSG};

/// Host messages longer than a packet but within rpmsg's limit reach
/// the firmware whole and are ignored and counted there; the longest
/// packet is still a packet (no sync on ET, so it bounces whole).
#[test]
fn long_host_messages_reach_the_firmware() {
    let dir = TestDir::new();
    let mut wires = Wires::new(
        &dir.0,
        LinkParams {
            seed: 1,
            ..LinkParams::default()
        },
    );
    let t = wires.add_tile("t");
    let grid = FirmwareModel::start(wires).expect("start the grid");
    let host = Host::connect(&grid.pru_socket(t, Pru::Pru0));
    host.start();
    let mut msg = vec![field::STND | Dir::ET.dir8(); MAX_RPMSG_MSG];
    for len in [MAX_PACKET + 1, 300, MAX_RPMSG_MSG] {
        host.send(&msg[..len]);
    }
    msg[1] = 20;
    host.send(&msg[..MAX_PACKET]);
    let end = deadline();
    let bounce = loop {
        let m = host.recv_by(end).expect("a bounce from the firmware");
        if m[0] == field::TYPE_BOUNCE {
            break m;
        }
    };
    assert_eq!(bounce.len(), MAX_PACKET + 2);
    assert_eq!(bounce[1], BounceReason::NoSync.to_byte());
    assert_eq!(&bounce[2..], &msg[..MAX_PACKET]);
    let st = grid.firmware_stats(t, Pru::Pru0).expect("firmware stats");
    assert_eq!(
        st.host_ignored, 3,
        "the three messages longer than a packet"
    );
    assert_eq!(st.dir[0].bounced_no_sync, 1);
    let stats = grid.stats();
    assert_eq!(stats.pru(t, Pru::Pru0).connections, 1);
    assert!(stats.pru(t, Pru::Pru0).started);
}

/// Two tiles wired ET to WT come up, and a cut and a restore show in the
/// counters; the firmware's counters come through the trait.
#[test]
fn a_wire_syncs_cuts_and_restores_behind_the_trait() {
    let dir = TestDir::new();
    let mut wires = Wires::new(&dir.0, LinkParams::default());
    let a = wires.add_tile("a");
    let b = wires.add_tile("b");
    wires.connect(a, Dir::ET, b);
    let model = itc_emu::start::<FirmwareModel>(wires).expect("start the grid");
    assert_eq!(model.name(), "firmware");
    let up = |want: bool| {
        let end = deadline();
        while std::time::Instant::now() < end {
            let s = model.stats();
            if s.link(a, Dir::ET).up == want && s.link(b, Dir::WT).up == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    };
    assert!(up(true), "the wire never came up: {:?}", model.stats());
    assert!(!model.stats().link(a, Dir::SE).wired);
    model.cut(b, Dir::WT);
    assert!(up(false), "the cut wire stayed up");
    model.restore(a, Dir::ET);
    assert!(up(true), "the restored wire stayed down");
    let words = model
        .firmware_counters(a, Dir::ET)
        .expect("counters")
        .to_string();
    assert!(words.starts_with("frames_sent="), "{words}");
    assert!(words.contains(" syncs="), "{words}");
    model.stop();
}

/// What the firmware model cannot do it refuses before binding anything;
/// files in the way of a socket are left alone.
#[test]
fn start_refuses_loss_latency_and_files_in_the_way() {
    let dir = TestDir::new();
    for params in [
        LinkParams {
            loss: 0.1,
            ..LinkParams::default()
        },
        LinkParams {
            latency: Duration::from_millis(1),
            ..LinkParams::default()
        },
    ] {
        let mut wires = Wires::new(&dir.0, params);
        wires.add_tile("t");
        let e = FirmwareModel::start(wires).expect_err("must not start");
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }
    assert!(!dir.0.join("t.pru0").exists());

    let mut wires = Wires::new(&dir.0, LinkParams::default());
    wires.add_tile("q");
    std::fs::write(dir.0.join("q.pru1"), b"not a socket").expect("write");
    let e = FirmwareModel::start(wires).expect_err("must not start");
    assert!(matches!(e, Error::NotASocket(_)), "{e}");
    assert_eq!(
        std::fs::read(dir.0.join("q.pru1")).expect("still there"),
        b"not a socket"
    );
    assert!(
        !dir.0.join("q.pru0").exists(),
        "the bound socket is removed"
    );
}

/// The packet model runs no firmware.
#[test]
fn the_packet_model_has_no_firmware_counters() {
    let dir = TestDir::new();
    let mut wires = Wires::new(&dir.0, LinkParams::default());
    let t = wires.add_tile("t");
    let model = itc_emu::start::<itc_emu::PacketModel>(wires).expect("start");
    let e = model
        .firmware_counters(t, Dir::ET)
        .expect_err("no firmware");
    assert!(matches!(e, Error::NoFirmware { .. }), "{e}");
}
