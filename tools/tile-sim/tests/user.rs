//! A grid started by an unprivileged user through `fusermount3` is that
//! user's to use. The user is `nobody`; `user_allow_other` (which the
//! trees' `allow_other` needs without root) comes from a private copy of
//! `/etc/fuse.conf` bind-mounted in a mount namespace of the test's own, so
//! the machine's configuration is never touched. The namespace also has its
//! own PID space: killing its first process (by pid, on any failure) ends
//! every process and mount the test started. Conditions are awaited with
//! deadlines.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use test_support::{wait_for, workspace_bins};

const TILE_SIM: &str = env!("CARGO_BIN_EXE_tile-sim");
const NOBODY: u32 = 65534;

/// Run inside the namespace as `sh -c SCRIPT sh FUSE_CONF TILE_SIM DIR`.
/// Prints what the test checks; exits non-zero with the reason otherwise.
const SCRIPT: &str = r#"
set -eu
conf=$1 sim=$2 dir=$3
mount --bind "$conf" /etc/fuse.conf
nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
$nobody "$sim" run --rows 1 --cols 2 --dir "$dir" >"$dir.log" 2>&1 &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null; wait $sim_pid' EXIT
tries=0
until grep -q '^peer: present' "$dir/r0c0/tile/ET/status" 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 300 ]; then
        echo "the grid never came up:"; cat "$dir.log"; exit 1
    fi
    sleep 0.1
done
echo "owner $(stat -c %u "$dir/r0c0/itc/mfm")"
$nobody sh -c 'exec 3<>"$1/r0c0/itc/mfm" && echo "opened itc/mfm read-write"' sh "$dir"
trap - EXIT
kill "$sim_pid"
status=0
wait "$sim_pid" || status=$?
echo "tile-sim exited $status"
cat "$dir.log"
"#;

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        // The mounts lived in the test's namespace and ended with it.
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Copy `bin` into `dir` so that `nobody` can run it wherever the build
/// tree is.
fn copy_bin(bin: &Path, dir: &Path) -> PathBuf {
    let to = dir.join(bin.file_name().expect("binary name"));
    fs::copy(bin, &to).expect("copy binary");
    fs::set_permissions(&to, fs::Permissions::from_mode(0o755)).expect("chmod binary");
    to
}

#[test]
fn a_grid_started_by_a_user_is_theirs_to_use() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to become nobody in a namespace of its own");
        return;
    }
    for tool in ["unshare", "setpriv", "mount"] {
        assert!(have(tool), "{tool} is missing (util-linux / mount)");
    }
    assert!(
        Path::new("/etc/fuse.conf").exists(),
        "/etc/fuse.conf is missing (fuse3)"
    );
    let exe_dir = Path::new(TILE_SIM).parent().expect("tile-sim's directory");
    let itcd = workspace_bins(exe_dir, &[("itcio", "itcd")]).remove(0);

    let base = std::env::temp_dir().join(format!("tile-sim-user-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).expect("create the test directory");
    let scratch = Scratch(base.clone());
    fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).expect("chmod");
    let sim = copy_bin(Path::new(TILE_SIM), &base);
    copy_bin(&itcd, &base);
    let conf = base.join("fuse.conf");
    fs::write(&conf, "user_allow_other\n").expect("write fuse.conf");
    let home = base.join("home");
    fs::create_dir(&home).expect("create nobody's directory");
    chown(&home, Some(NOBODY), Some(NOBODY)).expect("chown");
    let dir = home.join("grid");

    let out_file = base.join("out");
    let mut child = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--kill-child",
            "--",
            "sh",
            "-c",
            SCRIPT,
            "sh",
        ])
        .arg(&conf)
        .arg(&sim)
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_file).expect("output file"))
        .stderr(Stdio::from(
            fs::File::options()
                .append(true)
                .open(&out_file)
                .expect("output file"),
        ))
        .spawn()
        .expect("start unshare");
    let finished = wait_for(Duration::from_secs(60), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !finished {
        // --kill-child: the namespace and everything in it go with unshare.
        let _ = child.kill();
    }
    let status = child.wait().expect("wait for unshare");
    let out = fs::read_to_string(&out_file).unwrap_or_default();
    assert!(finished, "the check did not finish in time:\n{out}");
    assert!(status.success(), "{status}:\n{out}");
    assert!(
        out.contains(&format!("owner {NOBODY}\n")),
        "the tree is not nobody's:\n{out}"
    );
    assert!(
        out.contains("opened itc/mfm read-write"),
        "nobody cannot use their own tree:\n{out}"
    );
    assert!(
        out.contains("tile-sim exited 0"),
        "tile-sim did not stop cleanly:\n{out}"
    );
    // Each itcd unmounted its tree through fusermount3 and dismissed its
    // mount helper, as a user may (a helper left to check for itself
    // would say `not mounted`).
    assert!(
        out.contains("2 itcds stopped in ")
            && out.contains(", each with exit status 0\n")
            && !out.contains("killing")
            && !out.contains("not mounted"),
        "the itcds did not stop cleanly:\n{out}"
    );
    drop(scratch);
}
