//! A full disk, through a real grid: `itc-files` on r0c0 keeps its store
//! on a small tmpfs mounted by the test, and fetches a file published on
//! r0c1 (a second real `itc-files`) while that tmpfs is full. The status
//! (text and `--json`) and the log say so plainly, `live/` keeps what it
//! had, and once there is room again the fetch resumes by itself and the
//! file goes live.
//!
//! The tmpfs is unmounted by a guard, after the daemon using it has
//! stopped, also when the test fails.

mod raw_peer;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use raw_peer::{bins, content, trusted_key, Daemon, Grid, Scratch, Site, DEADLINE};
use test_support::{is_mounted, wait_for};

/// A tmpfs of `size` mounted at a directory; unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(dir).unwrap();
        mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(format!("size={size},mode=0755").as_str()),
        )
        .unwrap_or_else(|e| panic!("mount a tmpfs at {}: {e}", dir.display()));
        Tmpfs {
            dir: dir.to_owned(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if umount2(&self.dir, MntFlags::empty()).is_err() {
            let _ = umount2(&self.dir, MntFlags::MNT_DETACH);
        }
        if !std::thread::panicking() {
            assert!(
                !is_mounted(&self.dir),
                "{} stays mounted",
                self.dir.display()
            );
        }
    }
}

/// Writes `path` until the file system is full; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = File::create(path).unwrap();
    let block = vec![0xeeu8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    // What is left in the page cache is written now; ENOSPC here too.
    match f.sync_all() {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::StorageFull => {}
        Err(e) => panic!("filling {}: {e}", path.display()),
    }
    written
}

fn file_json<'a>(json: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    json["files"].as_array()?.iter().find(|f| f["name"] == name)
}

#[test]
fn full_disk_is_reported_and_the_fetch_completes_when_space_returns() {
    let bins = bins();
    let scratch = Scratch::new("diskfull");
    let grid = Grid::start(&bins, &scratch.0);
    let source = Site::new(&bins, &scratch.path("r0c1"), &trusted_key());
    let sink = Site::new(&bins, &scratch.path("r0c0"), &trusted_key());
    // The sink's store on a 4 MiB tmpfs; the guard outlives its daemon.
    let tmpfs = Tmpfs::mount(&sink.store, "4m");
    let _source_daemon = Daemon::start(&bins, &source, &grid.mount("r0c1"));
    let sink_daemon = Daemon::start(&bins, &sink, &grid.mount("r0c0"));

    // Something live before the disk fills: it must stay as it is.
    let kept = content(10_000, 1);
    sink.publish("kept.txt", &kept, &trusted_key(), 1);
    assert_eq!(sink.live_names(), ["kept.txt"]);
    let filler = tmpfs.dir.join("filler");
    let filled = fill(&filler);
    assert!(filled > 0);

    // A file on the other tile, larger than what is left.
    let big = content(1 << 20, 2);
    source.publish("big.bin", &big, &trusted_key(), 1);

    let full = || {
        let j = sink.json();
        j["counters"]["disk_full"].as_u64() > Some(0)
            && j["errors"].as_array().is_some_and(|e| {
                e.iter().any(|e| {
                    e.as_str()
                        .is_some_and(|e| e.starts_with("big.bin: no space left"))
                })
            })
    };
    assert!(
        wait_for(DEADLINE, full),
        "no disk-full error in the status:\n{}\nlog:\n{}",
        sink.text(),
        sink.log_text()
    );
    let text = sink.text();
    assert!(
        text.lines()
            .any(|l| l.starts_with("error: big.bin: no space left writing ")
                && l.contains("the transfer resumes when there is room")),
        "itc files status names the error:\n{text}"
    );
    assert!(
        sink.log_text().contains("no space left writing "),
        "the log names the error:\n{}",
        sink.log_text()
    );
    let json = sink.json();
    let f = file_json(&json, "big.bin").expect("big.bin is in the status");
    assert!(f["live"].is_null(), "{f}");
    assert!(f["fetch"]["error"].as_str().is_some(), "{f}");
    // live/ is as it was.
    assert_eq!(sink.live_names(), ["kept.txt"]);
    assert_eq!(fs::read(sink.store.join("live/kept.txt")).unwrap(), kept);

    // Room again: the fetch resumes by itself and the file goes live.
    fs::remove_file(&filler).unwrap();
    let live = sink.store.join("live/big.bin");
    assert!(
        wait_for(DEADLINE, || fs::read(&live).is_ok_and(|b| b == big)),
        "big.bin never went live after space returned:\n{}\nlog:\n{}",
        sink.text(),
        sink.log_text()
    );
    assert_eq!(sink.live_names(), ["big.bin", "kept.txt"]);
    assert_eq!(fs::read(sink.store.join("live/kept.txt")).unwrap(), kept);
    let json = sink.json();
    assert_eq!(json["errors"].as_array().map(Vec::len), Some(0), "{json}");
    drop(sink_daemon);
    drop(tmpfs);
}
