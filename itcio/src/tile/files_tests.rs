//! Unit tests of [`Files`](super::Files).

use super::*;

const RDWR: Access = Access::READ.union(Access::WRITE);

fn packet(len: usize) -> Box<[u8]> {
    let mut p = vec![0xa0 | Dir::ET.dir8()];
    p.resize(len, 0x55);
    p.into()
}

fn read(files: &mut Files, id: FileId, gen: u64) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    files.read(id, 0, 255, &mut out, gen).map(|()| out)
}

#[test]
fn a_packet_file_has_one_holder_and_a_closing_one_asks_to_wait() {
    let mut files = Files::new(1024);
    let kind = FileKind::Svc(None, 9);
    let id = files.open_channel(kind, RDWR, 0, |_| false).unwrap();
    assert_eq!(
        files.open_channel(kind, RDWR, 0, |_| false),
        Err(Error::Busy)
    );
    files.flush(id);
    assert_eq!(
        files.open_channel(kind, RDWR, 0, |_| false),
        Err(Error::WouldBlock)
    );
    // Still read from: a copy of the descriptor lives on.
    assert_eq!(read(&mut files, id, 0), Err(Error::WouldBlock));
    assert_eq!(
        files.open_channel(kind, RDWR, 0, |_| false),
        Err(Error::Busy)
    );
    files.release(id);
    assert!(files.open_channel(kind, RDWR, 0, |_| false).is_ok());
    // Events files are shared, and never written.
    let events = FileKind::Events(None);
    assert!(files
        .open_channel(events, Access::READ, 0, |_| true)
        .is_ok());
    assert!(files
        .open_channel(events, Access::READ, 0, |_| true)
        .is_ok());
    assert_eq!(
        files.open_channel(events, RDWR, 0, |_| true),
        Err(Error::Denied)
    );
}

#[test]
fn inbound_goes_to_the_direction_file_before_the_itc_file() {
    let mut files = Files::new(1024);
    let all = files
        .open_channel(FileKind::Mfm(None), RDWR, 0, |_| false)
        .unwrap();
    let et = files
        .open_channel(FileKind::Mfm(Some(Dir::ET)), RDWR, 0, |_| false)
        .unwrap();
    assert_eq!(files.deliver(Dir::ET, Carries::Mfm, &packet(9), 0), Ok(()));
    assert_eq!(files.deliver(Dir::SE, Carries::Mfm, &packet(8), 0), Ok(()));
    assert_eq!(read(&mut files, et, 0).map(|p| p.len()), Ok(9));
    assert_eq!(read(&mut files, all, 0).map(|p| p.len()), Ok(8));
    let mut changed: Vec<FileId> = files.drain_changed().collect();
    changed.sort();
    assert_eq!(changed, [all, et]);
    assert_eq!(
        files.deliver(Dir::ET, Carries::Svc(9), &packet(3), 0),
        Err(DropReason::NoReader)
    );
}

#[test]
fn write_only_and_stale_holders_take_nothing() {
    let mut files = Files::new(1024);
    let et = files
        .open_channel(FileKind::Mfm(Some(Dir::ET)), Access::WRITE, 0, |_| false)
        .unwrap();
    let all = files
        .open_channel(FileKind::Mfm(None), RDWR, 0, |_| false)
        .unwrap();
    assert_eq!(files.deliver(Dir::ET, Carries::Mfm, &packet(9), 0), Ok(()));
    assert_eq!(read(&mut files, all, 0).map(|p| p.len()), Ok(9), "not et");
    // A new physics generation: the MFM file is stale until reopened.
    assert_eq!(
        files.deliver(Dir::ET, Carries::Mfm, &packet(9), 1),
        Err(DropReason::NoReader)
    );
    assert_eq!(read(&mut files, all, 1), Err(Error::Stale));
    assert_eq!(files.poll(all, 1, |_, _| true), Readiness::all());
    assert!(matches!(
        files.write(et, 0, &packet(9), 1, 1024),
        Err(Error::Stale)
    ));
}

#[test]
fn a_tile_file_gets_its_direction_filled_in() {
    let mut files = Files::new(1024);
    let id = files
        .open_channel(FileKind::Svc(Some(Dir::NW), 9), RDWR, 0, |_| false)
        .unwrap();
    // DIR 0 (NT) in the header: itcd writes NW's.
    let Ok(Write::Packet { dir, mfm, packet }) = files.write(id, 0, &[0x80, 9, 1], 0, 1024) else {
        panic!("not a packet");
    };
    assert_eq!((dir, mfm), (Dir::NW, false));
    assert_eq!(&packet[..], &[0x80 | Dir::NW.dir8(), 9, 1]);
    assert!(matches!(
        files.write(id, 0, &[0x80, 9, 1], 0, 2),
        Err(Error::TooLong { len: 3, max: 2 })
    ));
    assert_eq!(
        files.write(id, 0, &[0x80, 8, 1], 0, 1024).err(),
        Some(Error::Invalid),
        "another service"
    );
    assert_eq!(
        files.write(id, 3, &[0x80, 9, 1], 0, 1024).err(),
        Some(Error::Invalid),
        "the rest of a split write"
    );
}

#[test]
fn a_physics_write_is_kept_only_once_committed() {
    let mut files = Files::new(1024);
    let id = files.open_physics(b"old\n".to_vec());
    let Ok(Write::Physics(edit)) = files.write(id, 0, b"ne", 0, 1024) else {
        panic!("not a physics write");
    };
    assert_eq!((edit.physics(), edit.taken()), ("ne", 2));
    files.commit_physics(id, edit);
    let Ok(Write::Physics(edit)) = files.write(id, 2, b"w\n", 0, 1024) else {
        panic!("not a physics write");
    };
    assert_eq!(edit.physics(), "new");
    assert_eq!(read(&mut files, id, 0), Ok(b"old\n".to_vec()), "as of open");
    assert!(matches!(
        files.write(id, 9, b"x", 0, 1024),
        Err(Error::Invalid)
    ));
    assert!(matches!(
        files.write(id, 0, &[0xff], 0, 1024),
        Err(Error::Invalid)
    ));
}

#[test]
fn events_readers_share_one_log_that_keeps_only_what_is_unread() {
    let mut files = Files::new(16 * 1024);
    // No reader, no cost.
    files.fan_out(Dir::ET, TepEvent::Connect);
    assert_eq!(files.event_log_size().0, 0);
    let ids: Vec<FileId> = (0..3000)
        .map(|i| {
            let scope = (i % 2 == 0).then_some(Dir::ET);
            let kind = FileKind::Events(scope);
            files.open_channel(kind, Access::READ, 0, |_| true).unwrap()
        })
        .collect();
    for i in 0..600 {
        let event = if i % 2 == 0 {
            TepEvent::Disconnect
        } else {
            TepEvent::Connect
        };
        files.fan_out(Dir::ET, event);
    }
    // 600 events kept once for 3000 readers, a byte each.
    let (events, memory) = files.event_log_size();
    assert_eq!(events, 600);
    assert!(memory < 2048, "{memory}");
    // Each reads its snapshot, then the changes in its own format.
    assert_eq!(read(&mut files, ids[0], 0), Ok(vec![0xc4, 0x01]));
    assert_eq!(read(&mut files, ids[0], 0), Ok(vec![0xc4, 0x02]));
    assert_eq!(read(&mut files, ids[1], 0), Ok(vec![0xc4, 0x01, 2]));
    for id in ids {
        files.release(id);
    }
    assert_eq!(files.event_log_size(), (0, 0), "all of it given back");
    assert!(files.open.capacity() < 256, "{}", files.open.capacity());
}
