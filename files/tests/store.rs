//! The store on a real file system: publishing, fetching chunk by chunk
//! between stores (with pipelining), restarts after a crash at every step
//! that matters (a real `kill -9` included), tombstones, hostile pieces,
//! and a full disk on a small tmpfs.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use itc_files::wire::{Locator, Object, CHUNK_LEN};
use itc_files::{
    assembly, Assembly, Keyring, Manifest, Name, RecordId, Recovered, SecretKey, ServeError, Store,
    StoreError, Tombstone,
};

fn key() -> SecretKey {
    SecretKey::from_seed(&[42; 32])
}

fn ring() -> Keyring {
    let mut r = Keyring::new();
    r.insert(key().public().clone());
    r
}

/// Bytes that differ from piece to piece.
fn content(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// Writes `data` to a scratch file and builds its signed manifest.
fn publishable(dir: &Path, name: &str, version: u64, data: &[u8]) -> (Manifest, PathBuf) {
    let path = dir.join(format!("src-{name}-{version}"));
    fs::write(&path, data).unwrap();
    let name = Name::new(name).unwrap();
    let m = Manifest::build(&name, version, data.len() as u64, data, &key()).unwrap();
    (m, path)
}

fn open(root: &Path) -> (Store, Vec<Recovered>) {
    Store::open(root).unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// Fetches the manifest with short id `at.id` from `from`, chunk by chunk,
/// and verifies it.
fn fetch_manifest(from: &Store, id: RecordId) -> Manifest {
    let len = from.manifest(id.short()).unwrap().bytes().len();
    let mut a = Assembly::new(len).unwrap();
    let mut buf = [0u8; CHUNK_LEN];
    for k in 0..assembly::chunk_count(len) {
        let at = Locator {
            id: id.short(),
            object: Object::Manifest,
            piece: 0,
            offset: k * CHUNK_LEN as u32,
        };
        let n = from.read_chunk(&at, &mut buf).unwrap();
        assert!(a.insert(at.offset, &buf[..n]).unwrap());
    }
    assert!(a.is_complete());
    Manifest::parse_verified(a.bytes(), &ring()).unwrap()
}

/// Copies piece `i` of `m` from `from` into `to`, chunk by chunk.
fn copy_piece(from: &Store, to: &mut Store, m: &Manifest, i: u32) -> Result<bool, ServeError> {
    let len = m.piece_len(i) as usize;
    let mut a = Assembly::new(len).unwrap();
    let mut buf = [0u8; CHUNK_LEN];
    for k in 0..assembly::chunk_count(len) {
        let at = Locator {
            id: m.id().short(),
            object: Object::Piece,
            piece: i,
            offset: k * CHUNK_LEN as u32,
        };
        let n = from.read_chunk(&at, &mut buf)?;
        a.insert(at.offset, &buf[..n]).unwrap();
    }
    Ok(to.write_piece(m.id(), i, a.bytes())?.complete)
}

#[test]
fn import_makes_a_live_file_and_leaves_nothing_staged() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(40_000, 1);
    let (m, src) = publishable(dir.path(), "map", 3, &data);
    let root = dir.path().join("store");
    let (mut s, notes) = open(&root);
    assert_eq!(notes, []);
    assert!(s.import(m.clone(), &src).unwrap());
    let name = Name::new("map").unwrap();
    assert_eq!(fs::read(s.live_path(&name)).unwrap(), data);
    assert_eq!(fs::read(root.join("manifests/map")).unwrap(), m.bytes());
    assert_eq!(entries(&root.join("staging")), Vec::<String>::new());
    assert_eq!(entries(&root.join("live")), ["map"]);
    assert_eq!(s.installed(&name), Some(&m));
    // Importing the same version again does not install it again.
    assert!(!s.import(m.clone(), &src).unwrap());
    // A changed source is caught piece by piece and nothing goes live.
    let (m2, src2) = publishable(dir.path(), "map", 4, &data);
    fs::write(&src2, content(40_000, 2)).unwrap();
    assert!(matches!(
        s.import(m2, &src2),
        Err(StoreError::BadPiece { piece: 0, .. })
    ));
    assert_eq!(fs::read(s.live_path(&name)).unwrap(), data);
    assert_eq!(entries(&root.join("staging")), Vec::<String>::new());
    // Reopening finds exactly what was there.
    drop(s);
    let (s, notes) = open(&root);
    assert_eq!(notes, []);
    assert_eq!(s.installed(&name), Some(&m));
}

#[test]
fn a_file_crosses_three_stores_and_is_forwarded_while_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(50_000, 7); // four pieces
    let (m, src) = publishable(dir.path(), "physics", 1, &data);
    let (mut a, _) = open(&dir.path().join("a"));
    let (mut b, _) = open(&dir.path().join("b"));
    let (mut c, _) = open(&dir.path().join("c"));
    a.import(m.clone(), &src).unwrap();

    let mb = fetch_manifest(&a, m.id());
    assert_eq!(mb, m);
    b.begin_fetch(mb.clone()).unwrap();
    assert!(!copy_piece(&a, &mut b, &m, 0).unwrap());
    // C learns the manifest from B, which has one piece so far.
    let mc = fetch_manifest(&b, m.id());
    c.begin_fetch(mc).unwrap();
    assert!(!copy_piece(&b, &mut c, &m, 0).unwrap(), "forwarded at once");
    assert!(matches!(
        copy_piece(&b, &mut c, &m, 1),
        Err(ServeError::NotYet(1))
    ));
    let mut buf = [0u8; itc_files::wire::MAX_BITMAP];
    let out = b
        .announce(m.name(), &mut buf)
        .expect("b announces its partial copy");
    assert_eq!(out.manifest_id, m.id());
    assert!(out.have.contains(0) && !out.have.contains(1));
    for i in 1..4 {
        let done = copy_piece(&a, &mut b, &m, i).unwrap();
        assert_eq!(done, i == 3);
        copy_piece(&b, &mut c, &m, i).unwrap();
    }
    assert!(b.install(m.id()).unwrap());
    assert!(c.install(m.id()).unwrap());
    for s in [&a, &b, &c] {
        assert_eq!(fs::read(s.live_path(m.name())).unwrap(), data);
    }
    // Out of range and unknown requests are told apart.
    let bad = Locator {
        id: m.id().short(),
        object: Object::Piece,
        piece: 4,
        offset: 0,
    };
    assert!(matches!(
        c.read_chunk(&bad, &mut [0; CHUNK_LEN]),
        Err(ServeError::OutOfRange)
    ));
    let unknown = Locator {
        id: RecordId::of(b"x").short(),
        ..bad
    };
    assert!(matches!(
        c.read_chunk(&unknown, &mut [0; CHUNK_LEN]),
        Err(ServeError::Unknown(_))
    ));
}

#[test]
fn a_restart_resumes_with_the_pieces_already_verified() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(100_000, 3); // seven pieces
    let (m, src) = publishable(dir.path(), "big", 2, &data);
    let (mut a, _) = open(&dir.path().join("a"));
    a.import(m.clone(), &src).unwrap();
    let root = dir.path().join("b");
    let (mut b, _) = open(&root);
    b.begin_fetch(m.clone()).unwrap();
    for i in [0, 2, 5] {
        copy_piece(&a, &mut b, &m, i).unwrap();
    }
    drop(b); // no sync: the bitmap on disk is behind
    let (mut b, notes) = open(&root);
    assert_eq!(
        notes,
        [Recovered::Resumed {
            name: m.name().clone(),
            version: 2,
            have: 3,
            count: 7
        }]
    );
    let pieces = b.fetch(m.id()).unwrap().pieces().clone();
    assert_eq!(pieces.missing().collect::<Vec<_>>(), [1, 3, 4, 6]);
    for i in [1, 3, 4, 6] {
        copy_piece(&a, &mut b, &m, i).unwrap();
    }
    assert!(b.install(m.id()).unwrap());
    assert_eq!(fs::read(b.live_path(m.name())).unwrap(), data);
}

#[test]
fn crashes_between_install_steps_are_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let old = content(30_000, 1);
    let new = content(30_000, 2);
    let (m1, src1) = publishable(dir.path(), "f", 1, &old);
    let (m2, src2) = publishable(dir.path(), "f", 2, &new);
    let name = m1.name().clone();
    let staged_dir =
        |root: &Path, m: &Manifest| root.join("staging").join(itc_files::hex::encode(&m.id().0));

    // Every piece staged, not installed: open installs it.
    let root = dir.path().join("s1");
    let (mut s, _) = open(&root);
    s.import(m1.clone(), &src1).unwrap();
    s.begin_fetch(m2.clone()).unwrap();
    let mut src = fs::File::open(&src2).unwrap();
    for i in 0..m2.piece_count() {
        let mut buf = vec![0; m2.piece_len(i) as usize];
        std::io::Read::read_exact(&mut src, &mut buf).unwrap();
        s.write_piece(m2.id(), i, &buf).unwrap();
    }
    drop(s);
    let (s, notes) = open(&root);
    assert_eq!(notes, [Recovered::Installed(name.clone(), 2)]);
    assert_eq!(fs::read(s.live_path(&name)).unwrap(), new);
    assert_eq!(s.installed(&name), Some(&m2));
    drop(s);

    // Crash after the data was renamed into live/, before the manifest:
    // live/f holds version 2 while manifests/f still says version 1.
    let root = dir.path().join("s2");
    let (mut s, _) = open(&root);
    s.import(m1.clone(), &src1).unwrap();
    s.begin_fetch(m2.clone()).unwrap();
    drop(s);
    let sd = staged_dir(&root, &m2);
    fs::write(sd.join("data"), &new).unwrap();
    fs::rename(sd.join("data"), root.join("live/f")).unwrap();
    let (s, notes) = open(&root);
    assert_eq!(notes, [Recovered::Installed(name.clone(), 2)]);
    assert_eq!(s.installed(&name), Some(&m2));
    assert_eq!(fs::read(root.join("manifests/f")).unwrap(), m2.bytes());
    assert_eq!(fs::read(s.live_path(&name)).unwrap(), new);
    assert_eq!(entries(&root.join("staging")), Vec::<String>::new());
    drop(s);

    // Crash after both renames, before the staging directory went.
    let root = dir.path().join("s3");
    let (mut s, _) = open(&root);
    s.import(m2.clone(), &src2).unwrap();
    drop(s);
    fs::create_dir(staged_dir(&root, &m2)).unwrap();
    fs::write(staged_dir(&root, &m2).join("pieces"), [0xff]).unwrap();
    let (s, notes) = open(&root);
    assert!(
        matches!(&notes[..], [Recovered::Removed(p, _)] if *p == staged_dir(&root, &m2)),
        "{notes:?}"
    );
    assert_eq!(s.installed(&name), Some(&m2));
    assert_eq!(entries(&root.join("staging")), Vec::<String>::new());
}

#[test]
fn nothing_unverified_stays_in_live() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(5000, 4);
    let (m, src) = publishable(dir.path(), "keep", 1, &data);
    let (m2, src2) = publishable(dir.path(), "short", 1, &data);
    let root = dir.path().join("s");
    let (mut s, _) = open(&root);
    s.import(m.clone(), &src).unwrap();
    s.import(m2.clone(), &src2).unwrap();
    drop(s);
    fs::write(root.join("live/stray"), b"nobody vouches for me").unwrap();
    fs::write(root.join("live/short"), b"truncated").unwrap();
    fs::write(root.join("manifests/.keep.tmp"), b"half a manifest").unwrap();
    fs::create_dir(root.join("staging/abc.new")).unwrap();
    fs::create_dir(root.join("staging/junk")).unwrap();
    fs::write(root.join("manifests/orphan"), m.bytes()).unwrap();
    let (s, notes) = open(&root);
    let removed: Vec<String> = notes
        .iter()
        .map(|n| match n {
            Recovered::Removed(p, _) => p.strip_prefix(&root).unwrap().display().to_string(),
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        removed,
        [
            "staging/junk",
            "manifests/.keep.tmp",
            "manifests/orphan",
            "manifests/short",
            "live/stray",
            "staging/abc.new",
        ]
    );
    assert_eq!(entries(&root.join("live")), ["keep"]);
    assert_eq!(entries(&root.join("manifests")), ["keep"]);
    assert_eq!(fs::read(s.live_path(m.name())).unwrap(), data);
}

#[test]
fn tombstones_remove_what_they_cover_and_a_higher_version_revives() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(20_000, 5);
    let (m1, src1) = publishable(dir.path(), "gone", 1, &data);
    let (m2, _) = publishable(dir.path(), "gone", 2, &data);
    let (m3, src3) = publishable(dir.path(), "gone", 3, &data);
    let root = dir.path().join("s");
    let (mut s, _) = open(&root);
    s.import(m1.clone(), &src1).unwrap();
    s.begin_fetch(m2.clone()).unwrap();
    let t = Tombstone::new(m1.name(), 2, &key());
    let out = s.delete(&t).unwrap();
    assert!(out.recorded && out.removed_live);
    assert_eq!(out.abandoned, [m2.id()]);
    assert!(!s.live_path(m1.name()).exists());
    assert_eq!(entries(&root.join("staging")), Vec::<String>::new());
    // A lower tombstone changes nothing; a covered version is refused.
    assert!(
        !s.delete(&Tombstone::new(m1.name(), 1, &key()))
            .unwrap()
            .recorded
    );
    assert!(matches!(
        s.begin_fetch(m2.clone()),
        Err(StoreError::Deleted { version: 2, .. })
    ));
    assert!(s.import(m3.clone(), &src3).unwrap());
    drop(s);
    let (s, notes) = open(&root);
    assert_eq!(notes, []);
    assert_eq!(s.installed(m1.name()), Some(&m3));
    assert_eq!(s.tombstone(m1.name()), Some(&t));
    let v = s.versions();
    assert_eq!(v.state(m1.name()), Some(itc_files::State::Live(m3.stamp())));
    assert_eq!(v.action(m1.name()), itc_files::Action::None);
}

#[test]
fn hostile_pieces_are_refused_and_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(20_000, 6);
    let (m, _) = publishable(dir.path(), "h", 1, &data);
    let (mut s, _) = open(&dir.path().join("s"));
    s.begin_fetch(m.clone()).unwrap();
    let mut bad = data[..16384].to_vec();
    bad[100] ^= 1;
    assert!(matches!(
        s.write_piece(m.id(), 0, &bad),
        Err(StoreError::BadPiece { piece: 0, .. })
    ));
    assert!(matches!(
        s.write_piece(m.id(), 0, &data[..100]),
        Err(StoreError::BadPiece { piece: 0, .. })
    ));
    assert!(matches!(
        s.write_piece(m.id(), 7, &data[..100]),
        Err(StoreError::PieceOutOfRange { piece: 7, .. })
    ));
    assert_eq!(s.fetch(m.id()).unwrap().pieces().count(), 0);
    assert!(matches!(
        s.install(m.id()),
        Err(StoreError::Incomplete {
            have: 0,
            count: 2,
            ..
        })
    ));
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount tmpfs (this test needs root)");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Writes `path` until the file system is full.
fn fill(path: &Path) {
    let mut f = fs::File::create(path).unwrap();
    for size in [64 * 1024, 4096, 1] {
        let chunk = vec![1u8; size];
        while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_fetch_resumes_when_space_returns() {
    let fs_ = Tmpfs::mount("256k");
    let scratch = tempfile::tempdir().unwrap();
    let small = content(10_000, 8);
    let big = content(400_000, 9);
    let (m1, src1) = publishable(scratch.path(), "f", 1, &small);
    let (m2, src2) = publishable(scratch.path(), "f", 2, &big);
    let root = fs_.path().join("store");
    let (mut s, _) = open(&root);
    s.import(m1.clone(), &src1).unwrap();

    let e = s.begin_fetch(m2.clone()).unwrap_err();
    assert!(matches!(e, StoreError::DiskFull(_)), "{e}");
    assert!(e.to_string().contains("no space left"), "{e}");
    assert_eq!(fs::read(s.live_path(m1.name())).unwrap(), small);
    assert_eq!(entries(&root.join("staging")), Vec::<String>::new());
    let e = s.import(m2.clone(), &src2).unwrap_err();
    assert!(matches!(e, StoreError::DiskFull(_)), "{e}");
    assert_eq!(s.installed(m1.name()), Some(&m1));

    // Room again: the same steps succeed, from a store opened afresh too.
    fs_.resize("2m");
    drop(s);
    let (mut s, notes) = open(&root);
    assert_eq!(notes, []);
    s.begin_fetch(m2.clone()).unwrap();
    // Filling the disk behind the reservation does not stop the fetch or
    // the install (renames need no new space).
    fill(&fs_.path().join("filler1"));
    let mut src = fs::File::open(&src2).unwrap();
    for i in 0..m2.piece_count() {
        let mut buf = vec![0; m2.piece_len(i) as usize];
        std::io::Read::read_exact(&mut src, &mut buf).unwrap();
        s.write_piece(m2.id(), i, &buf).unwrap();
    }
    assert!(s.install(m2.id()).unwrap());
    assert_eq!(fs::read(s.live_path(m2.name())).unwrap(), big);
    // A tombstone needs a little space: with none it fails cleanly. (The
    // install freed the old version's pages, so fill the disk again.)
    let filler = fs_.path().join("filler2");
    fill(&filler);
    let t = Tombstone::new(m2.name(), 2, &key());
    let e = s.delete(&t).unwrap_err();
    assert!(matches!(e, StoreError::DiskFull(_)), "{e}");
    assert_eq!(fs::read(s.live_path(m2.name())).unwrap(), big);
    fs::remove_file(&filler).unwrap();
    assert!(s.delete(&t).unwrap().removed_live);
}

/// The child side of the kill -9 test: fetches pieces into the store named
/// by ITC_FILES_KILL_STORE, printing each piece as it is written, until it
/// is killed.
#[test]
fn kill9_child() {
    let Ok(root) = std::env::var("ITC_FILES_KILL_STORE") else {
        return;
    };
    let root = PathBuf::from(root);
    let data = content(400_000, 11);
    let m = Manifest::parse(&fs::read(root.with_extension("manifest")).unwrap()).unwrap();
    let (mut s, _) = open(&root);
    s.begin_fetch(m.clone()).unwrap();
    let mut i = 0;
    loop {
        let at = m.piece_offset(i) as usize;
        s.write_piece(m.id(), i, &data[at..at + m.piece_len(i) as usize])
            .unwrap();
        println!("piece {i}");
        i += 1;
        if i == m.piece_count() - 1 {
            // Keep the last piece back and wait to be killed.
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            std::process::exit(3);
        }
    }
}

#[test]
fn kill_9_mid_transfer_resumes_and_nothing_partial_is_live() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(400_000, 11); // 25 pieces
    let (m, _) = publishable(dir.path(), "k", 1, &data);
    let root = dir.path().join("store");
    fs::write(root.with_extension("manifest"), m.bytes()).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill9_child", "--nocapture", "--test-threads=1"])
        .env("ITC_FILES_KILL_STORE", &root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < 20 {
        assert!(Instant::now() < deadline, "child wrote {seen} pieces");
        match lines.next() {
            Some(Ok(l)) if l.starts_with("piece ") => seen += 1,
            Some(Ok(_)) => {}
            other => panic!("child ended early: {other:?}"),
        }
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());

    assert_eq!(entries(&root.join("live")), Vec::<String>::new());
    let (mut s, notes) = open(&root);
    match &notes[..] {
        [Recovered::Resumed {
            have, count: 25, ..
        }] => assert!(*have >= 20, "{have}"),
        other => panic!("{other:?}"),
    }
    for i in s.fetch(m.id()).unwrap().pieces().clone().missing() {
        let at = m.piece_offset(i) as usize;
        s.write_piece(m.id(), i, &data[at..at + m.piece_len(i) as usize])
            .unwrap();
    }
    assert!(s.install(m.id()).unwrap());
    assert_eq!(fs::read(s.live_path(m.name())).unwrap(), data);
}
