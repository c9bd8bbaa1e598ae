//! The operating-system packaging in `udev/`, checked with the tools a tile
//! runs it with: `systemd-analyze`, `systemd-tmpfiles`, `systemd-sysusers`,
//! `udevadm`, `dpkg-deb`, `man`, `shellcheck`, and the shells whose
//! completions it installs (`bash`, `zsh`, `fish`).
//!
//! Each test builds the package from the workspace's debug `itcd`, `itc`,
//! `itc-files` and `tile-sim` with `udev/build-deb.sh --bin-dir` into its
//! own temporary directory and
//! checks the files as packaged. Nothing touches the machine: tmpfiles and
//! sysusers run with `--root` in a temporary directory, and the udev rules
//! and maintainer scripts run in a private mount namespace (`unshare -m`, so
//! as root, like the FUSE tests) over tmpfs copies of `/dev` and `/run`. A
//! missing tool fails its test with the Debian package to install;
//! `.ci/run` installs them all.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The workspace root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The directory of this build's `itcd`, `itc`, `itc-files` and `tile-sim`
/// (`target/debug`): this test runs from `target/debug/deps`. Builds them
/// there if need be, so `cargo test -p packaging-tests` works alone.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .to_path_buf();
    test_support::workspace_bins(
        &dir,
        &[
            ("itcio", "itcd"),
            ("itc", "itc"),
            ("itc-files-daemon", "itc-files"),
            ("tile-sim", "tile-sim"),
        ],
    );
    dir
}

/// Fail unless `tool` is on PATH, naming the Debian package that has it.
fn require(tool: &str, package: &str) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(tool).is_file());
    assert!(found, "{tool} not found: apt-get install {package}");
}

/// A temporary directory, removed when dropped (also when a test panics).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "itc-packaging-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `bash -c script` in a private mount namespace, so that the script's bind
/// mounts over system paths end with it; the caller adds its arguments.
fn bash_in_private_mounts(script: &str) -> Command {
    require("unshare", "util-linux");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "bash",
        "-c",
        script,
        "bash",
    ]);
    cmd
}

/// Run `cmd`; panic with its output unless it succeeds.
fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `bash udev/build-deb.sh --bin-dir target/debug OUT`, returning the .deb.
fn build_deb(out: &Path) -> PathBuf {
    require("dpkg-deb", "dpkg");
    require("readelf", "binutils");
    require("dpkg-architecture", "dpkg-dev");
    let built = run(Command::new("bash")
        .arg(workspace().join("udev/build-deb.sh"))
        .arg("--bin-dir")
        .arg(bin_dir())
        .arg(out)
        // The debug binaries are large; xz at its default level takes
        // seconds where gzip -1 takes a fraction of one.
        .env("DPKG_DEB_COMPRESSOR_TYPE", "gzip")
        .env("DPKG_DEB_COMPRESSOR_LEVEL", "1"));
    let deb = PathBuf::from(stdout(&built).trim());
    assert!(deb.is_file(), "build-deb.sh printed {deb:?}, not a file");
    deb
}

/// A freshly built package, its files unpacked under `root` and its control
/// files under `control`.
struct Package {
    tmp: TempDir,
    deb: PathBuf,
    root: PathBuf,
    control: PathBuf,
}

fn package(tag: &str) -> Package {
    let tmp = TempDir::new(tag);
    let deb = build_deb(&tmp.0.join("out"));
    let root = tmp.0.join("root");
    let control = tmp.0.join("control");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    Package {
        tmp,
        deb,
        root,
        control,
    }
}

/// The machine's Debian architecture.
fn host_arch() -> String {
    stdout(&run(Command::new("dpkg").arg("--print-architecture")))
        .trim()
        .to_string()
}

#[test]
fn package_holds_the_binaries_rules_units_and_man_pages() {
    let p = package("contents");

    // dpkg-deb --info parses the archive and lists the control members.
    let info = stdout(&run(Command::new("dpkg-deb").arg("--info").arg(&p.deb)));
    for member in [
        "control",
        "conffiles",
        "md5sums",
        "postinst",
        "prerm",
        "postrm",
    ] {
        assert!(
            info.contains(member),
            "no {member} in dpkg-deb --info:\n{info}"
        );
    }

    let field = |name: &str| {
        stdout(&run(Command::new("dpkg-deb")
            .arg("-f")
            .arg(&p.deb)
            .arg(name)))
        .trim()
        .to_string()
    };
    assert_eq!(field("Package"), "t2-itc");
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(field("Architecture"), host_arch());
    let depends = field("Depends");
    assert!(depends.contains("fuse3"), "Depends: {depends}");
    assert!(depends.contains("libc6 (>= 2."), "Depends: {depends}");

    // dpkg-deb -c: "MODE OWNER/GROUP SIZE DATE TIME ./PATH".
    let listing = stdout(&run(Command::new("dpkg-deb").arg("-c").arg(&p.deb)));
    let entry = |path: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(&format!(" ./{path}")))
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"))
            .to_string()
    };
    let expected = [
        ("usr/sbin/itcd", "-rwxr-xr-x"),
        ("usr/bin/itc", "-rwxr-xr-x"),
        ("usr/sbin/itc-files", "-rwxr-xr-x"),
        ("usr/bin/tile-sim", "-rwxr-xr-x"),
        ("usr/lib/udev/rules.d/60-itc.rules", "-rw-r--r--"),
        ("usr/lib/systemd/system/itcd.service", "-rw-r--r--"),
        ("usr/lib/systemd/system/itc-files.service", "-rw-r--r--"),
        ("usr/lib/tmpfiles.d/itc.conf", "-rw-r--r--"),
        ("usr/lib/sysusers.d/itc.conf", "-rw-r--r--"),
        ("etc/default/itcd", "-rw-r--r--"),
        ("etc/default/itc-files", "-rw-r--r--"),
        ("etc/itc/keys/", "drwxr-xr-x"),
        ("etc/itc/hooks/", "drwxr-xr-x"),
        ("usr/share/man/man8/itcd.8.gz", "-rw-r--r--"),
        ("usr/share/man/man8/itc-files.8.gz", "-rw-r--r--"),
        ("usr/share/man/man1/itc.1.gz", "-rw-r--r--"),
        ("usr/share/man/man1/tile-sim.1.gz", "-rw-r--r--"),
        ("usr/share/bash-completion/completions/itc", "-rw-r--r--"),
        (
            "usr/share/bash-completion/completions/tile-sim",
            "-rw-r--r--",
        ),
        ("usr/share/zsh/vendor-completions/_itc", "-rw-r--r--"),
        ("usr/share/zsh/vendor-completions/_tile-sim", "-rw-r--r--"),
        ("usr/share/fish/vendor_completions.d/itc.fish", "-rw-r--r--"),
        (
            "usr/share/fish/vendor_completions.d/tile-sim.fish",
            "-rw-r--r--",
        ),
        ("usr/share/doc/t2-itc/copyright", "-rw-r--r--"),
    ];
    for (path, mode) in expected {
        let line = entry(path);
        assert!(line.starts_with(mode), "{path}: {line}");
    }
    for line in listing.lines() {
        assert!(line.contains(" root/root "), "not owned by root: {line}");
    }

    // The packaged files are the repository's.
    for (packaged, source) in [
        ("usr/lib/udev/rules.d/60-itc.rules", "udev/60-itc.rules"),
        ("usr/lib/systemd/system/itcd.service", "udev/itcd.service"),
        (
            "usr/lib/systemd/system/itc-files.service",
            "udev/itc-files.service",
        ),
        ("usr/lib/tmpfiles.d/itc.conf", "udev/itc.tmpfiles"),
        ("usr/lib/sysusers.d/itc.conf", "udev/itc.sysusers"),
        ("etc/default/itcd", "udev/itcd.default"),
        ("etc/default/itc-files", "udev/itc-files.default"),
    ] {
        assert_eq!(
            fs::read(p.root.join(packaged)).unwrap(),
            fs::read(workspace().join(source)).unwrap(),
            "{packaged} differs from {source}"
        );
    }

    // dpkg keeps an administrator's edits of conffiles, and md5sums matches.
    let conffiles = fs::read_to_string(p.control.join("conffiles")).unwrap();
    assert_eq!(conffiles, "/etc/default/itcd\n/etc/default/itc-files\n");
    run(Command::new("md5sum")
        .args(["--check", "--quiet", "--strict"])
        .arg(p.control.join("md5sums"))
        .current_dir(&p.root));
    for script in ["postinst", "prerm", "postrm"] {
        let mode = fs::metadata(p.control.join(script)).unwrap().mode();
        assert_eq!(mode & 0o777, 0o755, "{script} mode {mode:o}");
    }

    // The packaged binaries are the ones built, and run.
    let version = format!("itcd {}", env!("CARGO_PKG_VERSION"));
    let out = run(Command::new(p.root.join("usr/sbin/itcd")).arg("--version"));
    assert_eq!(stdout(&out).trim(), version);
    run(Command::new(p.root.join("usr/bin/itc")).arg("--version"));
    let version = format!("itc-files {}", env!("CARGO_PKG_VERSION"));
    let out = run(Command::new(p.root.join("usr/sbin/itc-files")).arg("--version"));
    assert_eq!(stdout(&out).trim(), version);
    let out = run(Command::new(p.root.join("usr/bin/tile-sim")).arg("--version"));
    assert_eq!(
        stdout(&out).trim(),
        format!("tile-sim {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn man_pages_render_and_cover_every_subcommand() {
    require("man", "man-db");
    let p = package("man");
    let render = |page: &str| {
        let out = run(Command::new("man")
            .args(["--warnings", "--local-file"])
            .arg(p.root.join(page))
            // Plain ASCII, wide enough that no option is wrapped.
            .env("LC_ALL", "C")
            .env("MANWIDTH", "200")
            .env("MANPAGER", "cat"));
        assert_eq!(stderr(&out), "", "{page}: warnings");
        stdout(&out)
    };
    let itcd = render("usr/share/man/man8/itcd.8.gz");
    for text in [
        "itcd - T2 intertile daemon",
        "--pru0 <PATH>",
        "--pru1 <PATH>",
        "--mount <DIR>",
        "--name <NAME>",
        "--physics <PHYSICS>",
        "--log-level",
        "/etc/default/itcd",
    ] {
        assert!(itcd.contains(text), "itcd(8) lacks {text:?}:\n{itcd}");
    }
    let itc = render("usr/share/man/man1/itc.1.gz");
    for sub in [
        "status", "send", "recv", "events", "ping", "physics", "capture",
    ] {
        let heading = format!("itc {sub}");
        assert!(itc.contains(&heading), "itc(1) lacks {heading:?}:\n{itc}");
    }
    assert!(itc.contains("ITC_MOUNT"), "itc(1) lacks ITC_MOUNT");
    let files = render("usr/share/man/man8/itc-files.8.gz");
    for text in [
        "itc-files - T2 managed file service",
        "--mount <DIR>",
        "--store <DIR>",
        "--keys <DIR>",
        "--hooks <DIR>",
        "--hook-timeout <SECS>",
        "/var/lib/itc-files",
        "/etc/itc/keys",
        "/etc/itc/hooks",
        "/etc/default/itc-files",
        "SIGHUP",
    ] {
        assert!(
            files.contains(text),
            "itc-files(8) lacks {text:?}:\n{files}"
        );
    }
    assert!(itc.contains("--watch"), "itc(1) lacks status --watch");
    assert!(itc.contains("-w <FILE>"), "itc(1) lacks capture -w");
    assert!(itc.contains("t2-itc.lua"), "itc(1) lacks the dissector");
    let tile_sim = render("usr/share/man/man1/tile-sim.1.gz");
    assert!(
        tile_sim.contains("tile-sim - a grid of simulated T2 tiles"),
        "tile-sim(1) has no NAME line:\n{tile_sim}"
    );
    for sub in ["run", "ctl", "view", "snapshot", "completions"] {
        let heading = format!("tile-sim {sub}");
        assert!(
            tile_sim.contains(&heading),
            "tile-sim(1) lacks {heading:?}:\n{tile_sim}"
        );
    }
    for text in ["--rows <ROWS>", "--dir <DIR>", "EXIT STATUS", "itcd(8)"] {
        assert!(tile_sim.contains(text), "tile-sim(1) lacks {text:?}");
    }
}

/// Runs `script` in `shell` (`-c`) and returns its standard output.
fn shell_output(shell: &str, script: &str) -> String {
    stdout(&run(Command::new(shell).arg("-c").arg(script)))
}

#[test]
fn completions_load_in_bash_zsh_and_fish_and_match_the_binaries() {
    require("bash", "bash");
    require("zsh", "zsh");
    require("fish", "fish");
    let p = package("completions");
    let share = p.root.join("usr/share");
    for bin in ["itc", "tile-sim"] {
        // What the package holds is what the packaged binary prints.
        for (shell, file) in [
            ("bash", format!("bash-completion/completions/{bin}")),
            ("zsh", format!("zsh/vendor-completions/_{bin}")),
            ("fish", format!("fish/vendor_completions.d/{bin}.fish")),
        ] {
            let out = run(Command::new(p.root.join("usr/bin").join(bin))
                .arg("completions")
                .arg(shell));
            assert_eq!(
                fs::read(share.join(&file)).unwrap(),
                out.stdout,
                "{file} is not what `{bin} completions {shell}` prints"
            );
        }
    }

    // bash: the file registers a function for the command (as
    // bash-completion's loader expects), and calling it the way bash does
    // on Tab completes subcommands and options.
    let bash_complete = |bin: &str, words: &[&str]| -> Vec<String> {
        let file = share.join("bash-completion/completions").join(bin);
        let script = format!(
            r#"source '{file}'
f=$(complete -p '{bin}' | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
[ -n "$f" ] || {{ echo "no completion function for {bin}" >&2; exit 1; }}
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$f" '{bin}' "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
            file = file.display(),
            words = words.join(" ")
        );
        shell_output("bash", &script)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let got = bash_complete("itc", &["itc", "sta"]);
    assert_eq!(got, ["status"], "bash: itc sta<Tab>");
    let got = bash_complete("itc", &["itc", "status", "--w"]);
    assert_eq!(got, ["--watch"], "bash: itc status --w<Tab>");
    let got = bash_complete("tile-sim", &["tile-sim", "sn"]);
    assert_eq!(got, ["snapshot"], "bash: tile-sim sn<Tab>");

    // zsh: each file parses and declares its command for compinit.
    for bin in ["itc", "tile-sim"] {
        let file = share.join("zsh/vendor-completions").join(format!("_{bin}"));
        run(Command::new("zsh").arg("-n").arg(&file));
        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(
            text.lines().next(),
            Some(format!("#compdef {bin}").as_str()),
            "{}",
            file.display()
        );
    }

    // fish: completing a command line with the file loaded, as fish does
    // on Tab (`complete -C`).
    let fish_complete = |bin: &str, line: &str| -> Vec<String> {
        let file = share
            .join("fish/vendor_completions.d")
            .join(format!("{bin}.fish"));
        let script = format!("source '{}'; complete -C '{line}'", file.display());
        shell_output("fish", &script)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect()
    };
    let got = fish_complete("itc", "itc sta");
    assert_eq!(got, ["status"], "fish: itc sta<Tab>");
    let got = fish_complete("tile-sim", "tile-sim ");
    for sub in ["run", "ctl", "view", "snapshot"] {
        assert!(
            got.iter().any(|g| g == sub),
            "fish: tile-sim <Tab>: {got:?}"
        );
    }
}

/// The unit `name` as packaged, with ExecStart pointing at the unpacked
/// `bin` (systemd-analyze verify checks that the binary exists), in one
/// directory for all units.
fn unit_for_verify(p: &Package, name: &str, bin: &str) -> PathBuf {
    let unit = fs::read_to_string(p.root.join("usr/lib/systemd/system").join(name)).unwrap();
    let exec = format!("ExecStart=/usr/sbin/{bin} ");
    assert!(unit.contains(&exec), "{unit}");
    let unpacked = p.root.join("usr/sbin").join(bin);
    let rewritten = unit.replace(&exec, &format!("ExecStart={} ", unpacked.display()));
    let dir = p.tmp.0.join("verify");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    fs::write(&path, rewritten).unwrap();
    path
}

/// `systemd-analyze verify UNITS...` must be silent, and the first unit's
/// exposure (`systemd-analyze security`, 0 best, 10 worst) at most
/// `threshold`.
fn verify_units(p: &Package, units: &[&Path], threshold: f64) {
    // verify also looks up Documentation=man:... pages: find the packaged ones.
    let out = run(Command::new("systemd-analyze")
        .arg("verify")
        .args(units)
        .env("MANPATH", p.root.join("usr/share/man")));
    // An unknown or misspelt key is only a warning: require silence.
    assert_eq!(
        format!("{}{}", stdout(&out), stderr(&out)),
        "",
        "systemd-analyze verify complained"
    );
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(format!("--threshold={}", (threshold * 10.0).round()))
        .arg(units[0])
        .output()
        .expect("systemd-analyze security");
    assert!(
        out.status.success(),
        "exposure above {threshold}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn unit_passes_systemd_analyze_verify() {
    require("systemd-analyze", "systemd");
    require("man", "man-db");
    let p = package("verify");
    let unit = unit_for_verify(&p, "itcd.service", "itcd");
    // A guard against loosened hardening: systemd's own exposure score
    // (0 best, 10 worst) is 3.7 now; fail above 4.5.
    verify_units(&p, &[&unit], 4.5);
}

#[test]
fn files_unit_passes_systemd_analyze_verify() {
    require("systemd-analyze", "systemd");
    require("man", "man-db");
    let p = package("verify-files");
    let files = unit_for_verify(&p, "itc-files.service", "itc-files");
    let itcd = unit_for_verify(&p, "itcd.service", "itcd");
    // Verified with the unit it requires, as systemd loads them. Exposure
    // is 3.5 now (no file system sandbox: hooks are the administrator's
    // programs); fail above 4.5.
    verify_units(&p, &[&files, &itcd], 4.5);
}

#[test]
fn files_unit_needs_itcd_and_keeps_state_keys_and_hooks_in_place() {
    let unit = fs::read_to_string(workspace().join("udev/itc-files.service")).unwrap();
    let set = settings(&unit);
    let get = |key: &str| -> Vec<&str> {
        set.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(get("Requires"), ["itcd.service"]);
    assert_eq!(get("After"), ["itcd.service"]);
    assert_eq!(get("Type"), ["notify"]);
    assert_eq!(get("StateDirectory"), ["itc-files"]);
    // Users reach the control socket (0660, group itc) and read live/.
    assert_eq!(get("StateDirectoryMode"), ["0755"]);
    assert_eq!(get("Restart"), ["on-failure"]);
    // itc-files exits 2 on bad usage, which no restart mends.
    assert_eq!(get("RestartPreventExitStatus"), ["2"]);
    assert_eq!(get("WantedBy"), ["multi-user.target"]);
    assert_eq!(get("EnvironmentFile"), ["-/etc/default/itc-files"]);
    let exec = get("ExecStart").join(" ");
    for arg in [
        "/usr/sbin/itc-files ",
        "--mount /run/itc",
        "--store /var/lib/itc-files",
        "--keys /etc/itc/keys",
        "--hooks /etc/itc/hooks",
        "$ITC_FILES_OPTS",
    ] {
        assert!(exec.contains(arg), "ExecStart lacks {arg}: {exec}");
    }
    // The defaults the unit spells out are the daemon's own.
    let help = stdout(&run(Command::new(bin_dir().join("itc-files")).arg("--help")));
    for default in [
        "else /run/itc]",
        "else /var/lib/itc-files]",
        "[default: /etc/itc/keys]",
        "[default: /etc/itc/hooks]",
    ] {
        assert!(help.contains(default), "itc-files --help lacks {default}");
    }
}

/// `key=value` settings of a unit file, in order, comments dropped.
fn settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn unit_stays_in_the_host_mount_namespace() {
    // Any of these gives the service its own mount namespace, whose mounts
    // never propagate to the host (systemd.exec(5)): /run/itc would be
    // mounted for itcd alone. PrivateUsers= would void CAP_SYS_ADMIN.
    const OWN_NAMESPACE: &[&str] = &[
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "PrivateMounts",
        "PrivateNetwork",
        "PrivateIPC",
        "PrivateUsers",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectProc",
        "ProcSubset",
        "ReadOnlyPaths",
        "ReadWritePaths",
        "InaccessiblePaths",
        "ExecPaths",
        "NoExecPaths",
        "BindPaths",
        "BindReadOnlyPaths",
        "TemporaryFileSystem",
        "RootDirectory",
        "RootImage",
        "MountAPIVFS",
        "MountFlags",
        "LogNamespace",
        "DynamicUser",
    ];
    let unit = fs::read_to_string(workspace().join("udev/itcd.service")).unwrap();
    let set = settings(&unit);
    for (key, value) in &set {
        let off = matches!(value.as_str(), "" | "no" | "false" | "0" | "off");
        assert!(
            !OWN_NAMESPACE.contains(&key.as_str()) || off,
            "itcd.service sets {key}={value}, which hides its mount from the host"
        );
    }
    let get = |key: &str| -> Vec<&str> {
        set.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(get("Type"), ["notify"]);
    assert_eq!(get("Restart"), ["on-failure"]);
    // itcd exits 2 on bad usage, which no restart mends.
    assert_eq!(get("RestartPreventExitStatus"), ["2"]);
    assert_eq!(get("CapabilityBoundingSet"), ["CAP_SYS_ADMIN"]);
    // fusermount3's auto_unmount helper needs a short-lived mount namespace
    // to unmount after itcd dies; every other kind stays refused.
    assert_eq!(get("RestrictNamespaces"), ["mnt"]);
    assert_eq!(
        get("ConditionPathExists"),
        ["/dev/itc-pru0", "/dev/itc-pru1"]
    );
    let devices = get("DeviceAllow");
    assert!(devices.contains(&"/dev/fuse rw"), "{devices:?}");
    assert!(devices.contains(&"char-rpmsg_pru rw"), "{devices:?}");
    let exec = get("ExecStart").join(" ");
    for arg in [
        "--pru0 /dev/itc-pru0",
        "--pru1 /dev/itc-pru1",
        "--mount /run/itc",
    ] {
        assert!(exec.contains(arg), "ExecStart lacks {arg}: {exec}");
    }
}

#[test]
fn tmpfiles_and_sysusers_entries_apply_to_a_temp_root() {
    require("systemd-tmpfiles", "systemd");
    require("systemd-sysusers", "systemd");
    let p = package("tmpfiles");

    // With --root both read their files from ROOT/usr/lib/*.d, so this runs
    // the packaged entries, and writes only under ROOT.
    let dry = run(Command::new("systemd-sysusers")
        .arg(format!("--root={}", p.root.display()))
        .arg("--dry-run")
        .arg("itc.conf"));
    assert!(
        stderr(&dry).contains("Creating group 'itc'"),
        "{}",
        stderr(&dry)
    );
    assert!(!p.root.join("etc/group").exists(), "--dry-run wrote");
    run(Command::new("systemd-sysusers")
        .arg(format!("--root={}", p.root.display()))
        .arg("itc.conf"));
    let group = fs::read_to_string(p.root.join("etc/group")).unwrap();
    assert!(
        group.lines().any(|l| l.starts_with("itc:x:")),
        "no itc in {group}"
    );

    run(Command::new("systemd-tmpfiles")
        .arg(format!("--root={}", p.root.display()))
        .arg("--create")
        .arg("itc.conf"));
    let run_itc = fs::metadata(p.root.join("run/itc")).unwrap();
    assert!(run_itc.is_dir());
    assert_eq!(run_itc.permissions().mode() & 0o7777, 0o755);
    for (link, target) in [("dev/itc", "/run/itc/itc"), ("dev/tile", "/run/itc/tile")] {
        let found = fs::read_link(p.root.join(link)).unwrap_or_else(|e| panic!("{link}: {e}"));
        assert_eq!(found, Path::new(target), "{link}");
    }
}

/// In a private mount namespace: serve a tree with `tile-sim` (one tile,
/// the workspace's `itcd`), bind it over ROOT/run/itc as the service mounts
/// it, and apply the packaged tmpfiles entries to ROOT, as postinst does
/// on an upgrade while itcd runs.
const MOUNTED_TMPFILES: &str = r#"
set -euo pipefail
tile_sim=$1 itcd=$2 root=$3 grid=$4
mkdir -p "$grid" "$root/run/itc" "$root/dev"
"$tile_sim" run --rows 1 --cols 1 --dir "$grid" --itcd "$itcd" >"$grid.log" 2>&1 &
sim=$!
cleanup() {
    umount "$root/run/itc" 2>/dev/null || true
    kill -TERM "$sim"
    wait "$sim" || true
}
trap cleanup EXIT
for _ in $(seq 300); do
    [ -e "$grid/r0c0/itc/self" ] && break
    kill -0 "$sim" || { cat "$grid.log" >&2; exit 1; }
    sleep 0.1
done
[ -e "$grid/r0c0/itc/self" ] || { echo "no tree after 30 s" >&2; cat "$grid.log" >&2; exit 1; }
mount --bind "$grid/r0c0" "$root/run/itc"
before=$(stat -c '%a %u %g' "$root/run/itc")
systemd-tmpfiles --root="$root" --create itc.conf
echo "before: $before"
echo "after: $(stat -c '%a %u %g' "$root/run/itc")"
echo "self: $(test -e "$root/run/itc/itc/self" && echo yes)"
"#;

#[test]
fn tmpfiles_leave_the_mounted_tree_alone() {
    require("systemd-tmpfiles", "systemd");
    require("fusermount3", "fuse3");
    let p = package("tmpfiles-mounted");
    let bins = bin_dir();
    // The tree's root is 0555 and refuses chmod and chown: an entry that
    // adjusted an existing /run/itc would fail here (exit 73), and so would
    // postinst under `set -e`.
    let out = run(bash_in_private_mounts(MOUNTED_TMPFILES)
        .arg(bins.join("tile-sim"))
        .arg(bins.join("itcd"))
        .arg(&p.root)
        .arg(p.tmp.0.join("grid")));
    let text = stdout(&out);
    let field = |name: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
            .to_string()
    };
    assert!(field("before").starts_with("555 "), "{text}");
    assert_eq!(field("before"), field("after"), "{text}");
    assert_eq!(field("self"), "yes", "{text}");
}

/// In a private mount namespace, with tmpfs over /dev, /run,
/// /etc/udev/rules.d and /sys/devices/virtual: install the rules, make
/// fake sysfs entries and nodes for rpmsg_pru30, 31 and 32, and let
/// `udevadm test` run the rules on each.
const UDEV_SCRIPT: &str = r#"
set -euo pipefail
rules=$1 work=$2
mount -t tmpfs tmpfs /etc/udev/rules.d
cp "$rules" /etc/udev/rules.d/
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev
mknod -m 0666 /dev/null c 1 3
mount -t tmpfs tmpfs /sys/devices/virtual
if ! getent group itc >/dev/null; then
    cp /etc/group "$work/group"
    echo "itc:x:64123:" >>"$work/group"
    mount --bind "$work/group" /etc/group
fi
for n in 30 31 32; do
    d=/sys/devices/virtual/rpmsg_pru/rpmsg_pru$n
    mkdir -p "$d"
    printf 'MAJOR=241\nMINOR=%s\nDEVNAME=rpmsg_pru%s\n' "$n" "$n" >"$d/uevent"
    echo "241:$n" >"$d/dev"
    ln -s ../../../../class/rpmsg_pru "$d/subsystem"
    mknod -m 0600 "/dev/rpmsg_pru$n" c 241 "$n"
    echo "@@section rpmsg_pru$n"
    # The tmpfs is not sysfs; this documented switch lets udev use it.
    SYSTEMD_DEVICE_VERIFY_SYSFS=0 udevadm test --action=add "$d" 2>&1
    echo "node: $(stat -c '%a %G' "/dev/rpmsg_pru$n")"
    echo "links: $(find /dev -maxdepth 1 -type l -printf '%f->%l ' | sort)"
done
"#;

#[test]
fn udev_rules_give_the_pru_devices_group_mode_links_and_a_want() {
    require("udevadm", "udev");
    let p = package("udev");
    assert!(
        Path::new("/etc/udev/rules.d").is_dir(),
        "/etc/udev/rules.d is missing: apt-get install udev"
    );
    let out = run(bash_in_private_mounts(UDEV_SCRIPT)
        .arg(p.root.join("usr/lib/udev/rules.d/60-itc.rules"))
        .arg(&p.tmp.0));
    let text = stdout(&out);
    let section = |name: &str| -> String {
        let start = text
            .find(&format!("@@section {name}\n"))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"));
        let rest = &text[start + "@@section ".len()..];
        rest[..rest.find("@@section ").unwrap_or(rest.len())].to_string()
    };

    // udev reports what it could not parse, with file and line.
    for line in text.lines().filter(|l| l.contains("60-itc.rules")) {
        let lower = line.to_lowercase();
        for bad in ["invalid", "ignoring", "unknown", "error", "fail"] {
            assert!(!lower.contains(bad), "udev on the rules: {line}");
        }
    }

    for (n, link) in [(30, "itc-pru0"), (31, "itc-pru1")] {
        let s = section(&format!("rpmsg_pru{n}"));
        assert!(s.contains(&format!("DEVLINKS=/dev/{link}\n")), "{s}");
        assert!(s.contains("SYSTEMD_WANTS=itcd.service\n"), "{s}");
        assert!(
            s.lines()
                .any(|l| l.starts_with("TAGS=") && l.contains(":systemd:")),
            "{s}"
        );
        assert!(s.contains("node: 660 itc\n"), "{s}");
        assert!(s.contains(&format!("{link}->rpmsg_pru{n} ")), "{s}");
    }
    // Another PRU channel is none of the rules' business.
    let s = section("rpmsg_pru32");
    assert!(!s.contains("SYSTEMD_WANTS="), "{s}");
    assert!(!s.contains("DEVLINKS="), "{s}");
    assert!(s.contains("node: 600 root\n"), "{s}");
}

/// In a private mount namespace, with FAKE_RUN bound over /run and tmpfs
/// over /dev and /var/lib (holding an itc-files store): run a maintainer
/// script with every system command it may call replaced by a stub that
/// logs its arguments.
const SCRIPT_RUNNER: &str = r#"
set -euo pipefail
fake_run=$1 stubs=$2 script=$3
shift 3
mount --bind "$fake_run" /run
mount -t tmpfs tmpfs /dev
mknod -m 0666 /dev/null c 1 3
ln -s /run/itc/itc /dev/itc
ln -s /elsewhere /dev/tile
mount -t tmpfs tmpfs /var/lib
mkdir -p /var/lib/itc-files/live
echo data >/var/lib/itc-files/live/map.bin
PATH=$stubs:$PATH bash "$script" "$@"
echo "dev: $(find /dev -maxdepth 1 -type l -printf '%f ' | sort)"
echo "store: $(test -e /var/lib/itc-files/live/map.bin && echo kept || echo gone)"
"#;

/// Commands the maintainer scripts call on the system.
const STUBBED: &[&str] = &[
    "systemd-sysusers",
    "systemd-tmpfiles",
    "systemctl",
    "udevadm",
    "deb-systemd-helper",
    "deb-systemd-invoke",
    "groupadd",
];

struct ScriptRun {
    calls: Vec<String>,
    stdout: String,
    run_itc_left: bool,
}

/// Run DEBIAN/`script` with `args`; `running` says whether /run looks like
/// a booted systemd with udevd, or a chroot.
fn run_maintainer_script(p: &Package, script: &str, args: &[&str], running: bool) -> ScriptRun {
    run_maintainer_script_failing(p, script, args, running, &[])
}

/// `run_maintainer_script`, with the stubs named in `failing` exiting 1.
fn run_maintainer_script_failing(
    p: &Package,
    script: &str,
    args: &[&str],
    running: bool,
    failing: &[&str],
) -> ScriptRun {
    let dir = TempDir::new(&format!("{script}-{running}"));
    let stubs = dir.0.join("stubs");
    let log = dir.0.join("calls");
    fs::create_dir_all(&stubs).unwrap();
    for name in STUBBED {
        let stub = stubs.join(name);
        let status = u8::from(failing.contains(name));
        fs::write(
            &stub,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >>'{}'\nexit {status}\n",
                log.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let fake_run = dir.0.join("run");
    fs::create_dir_all(fake_run.join("itc")).unwrap();
    let _udev_control = if running {
        fs::create_dir_all(fake_run.join("systemd/system")).unwrap();
        fs::create_dir_all(fake_run.join("udev")).unwrap();
        Some(UnixListener::bind(fake_run.join("udev/control")).unwrap())
    } else {
        None
    };
    let out = run(bash_in_private_mounts(SCRIPT_RUNNER)
        .arg(&fake_run)
        .arg(&stubs)
        .arg(p.control.join(script))
        .args(args));
    let calls = fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    ScriptRun {
        calls,
        stdout: stdout(&out),
        run_itc_left: fake_run.join("itc").exists(),
    }
}

/// What `postinst configure` runs in a chroot and on a running system alike:
/// the group, and the enablement symlinks of both units.
const POSTINST_ANYWHERE: [&str; 5] = [
    "systemd-sysusers /usr/lib/sysusers.d/itc.conf",
    "deb-systemd-helper --quiet was-enabled itcd.service",
    "deb-systemd-helper enable itcd.service",
    "deb-systemd-helper --quiet was-enabled itc-files.service",
    "deb-systemd-helper enable itc-files.service",
];

#[test]
fn maintainer_scripts_leave_the_running_system_alone_in_a_chroot() {
    let p = package("scripts-chroot");
    // Only the group and the enablement symlinks: no running manager or
    // udevd to talk to, and /run and /dev are rebuilt at boot anyway.
    let r = run_maintainer_script(&p, "postinst", &["configure"], false);
    assert_eq!(r.calls, POSTINST_ANYWHERE);
    let r = run_maintainer_script(&p, "prerm", &["remove"], false);
    assert_eq!(r.calls, Vec::<String>::new());
    let r = run_maintainer_script(&p, "postrm", &["purge"], false);
    assert_eq!(
        r.calls,
        [
            "deb-systemd-helper purge itcd.service",
            "deb-systemd-helper purge itc-files.service"
        ]
    );
    // Purge removes itc-files' store; removal keeps it.
    assert!(r.stdout.contains("store: gone\n"), "{}", r.stdout);
    let r = run_maintainer_script(&p, "postrm", &["remove"], false);
    assert!(r.stdout.contains("store: kept\n"), "{}", r.stdout);
}

#[test]
fn maintainer_scripts_apply_everything_on_a_running_system() {
    let p = package("scripts-running");
    let fresh = run_maintainer_script(&p, "postinst", &["configure"], true);
    let running_only = [
        "systemd-tmpfiles --create /usr/lib/tmpfiles.d/itc.conf",
        "systemctl daemon-reload",
        "udevadm control --reload",
        "udevadm trigger --action=add --subsystem-match=rpmsg_pru --sysname-match=rpmsg_pru3[01]",
        "udevadm settle --timeout=10",
        "deb-systemd-invoke start itcd.service itc-files.service",
    ];
    assert_eq!(
        fresh.calls,
        [POSTINST_ANYWHERE.as_slice(), &running_only].concat()
    );
    // An upgrade restarts itcd for the new binary.
    let upgrade = run_maintainer_script(&p, "postinst", &["configure", "0.0.1"], true);
    assert_eq!(
        upgrade.calls.last().map(String::as_str),
        Some("deb-systemd-invoke restart itcd.service itc-files.service")
    );
    // A unit that fails to start does not fail the package: dpkg would
    // leave it half configured (run() fails on a failing script).
    let failed = run_maintainer_script_failing(
        &p,
        "postinst",
        &["configure"],
        true,
        &["deb-systemd-invoke"],
    );
    assert_eq!(
        failed.calls.last().map(String::as_str),
        Some("deb-systemd-invoke start itcd.service itc-files.service")
    );
    // prerm stops it on removal only; an upgrade keeps it running.
    let r = run_maintainer_script(&p, "prerm", &["remove"], true);
    assert_eq!(
        r.calls,
        ["deb-systemd-invoke stop itcd.service itc-files.service"]
    );
    // A removal that fails after prerm: postinst abort-remove starts it
    // again, and does nothing else.
    let r = run_maintainer_script(&p, "postinst", &["abort-remove"], true);
    assert_eq!(
        r.calls,
        ["deb-systemd-invoke start itcd.service itc-files.service"]
    );
    let r = run_maintainer_script(&p, "postinst", &["abort-remove"], false);
    assert_eq!(r.calls, Vec::<String>::new());
    let r = run_maintainer_script(&p, "prerm", &["upgrade", "0.2.0"], true);
    assert_eq!(r.calls, Vec::<String>::new());
    // postrm forgets the unit and rules, and removes the links into
    // /run/itc and the mount point; a link it did not make stays.
    let r = run_maintainer_script(&p, "postrm", &["remove"], true);
    assert_eq!(
        r.calls,
        ["systemctl daemon-reload", "udevadm control --reload"]
    );
    assert!(r.stdout.contains("dev: tile \n"), "{}", r.stdout);
    assert!(!r.run_itc_left, "/run/itc was left");
}

#[test]
fn build_deb_refuses_binaries_for_another_architecture() {
    let tmp = TempDir::new("arch");
    let bins = tmp.0.join("bins");
    fs::create_dir_all(&bins).unwrap();
    // Small ELF files that claim another machine (e_machine, at byte 18)
    // than this one, for which the package is built.
    let host = host_arch();
    let (machine, shown) = if host.starts_with("arm") {
        (62u16, "X86-64")
    } else {
        (40u16, "ARM")
    };
    let mut elf = fs::read("/bin/true").unwrap();
    elf[18..20].copy_from_slice(&machine.to_le_bytes());
    for name in ["itcd", "itc", "itc-files"] {
        fs::write(bins.join(name), &elf).unwrap();
        fs::set_permissions(bins.join(name), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = Command::new("bash")
        .arg(workspace().join("udev/build-deb.sh"))
        .arg("--bin-dir")
        .arg(&bins)
        .arg(tmp.0.join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "packaged {shown} binaries as {host}");
    let err = stderr(&out);
    assert!(
        err.contains(shown) && err.contains(&format!("not {host}")),
        "{err}"
    );
    assert!(!tmp.0.join("out").exists(), "wrote a package anyway");
}

#[test]
fn shell_scripts_pass_shellcheck() {
    require("shellcheck", "shellcheck");
    let ws = workspace();
    run(Command::new("shellcheck")
        .arg(ws.join("udev/build-deb.sh"))
        .arg(ws.join("udev/render-man.sh"))
        .arg(ws.join("udev/deb/postinst"))
        .arg(ws.join("udev/deb/prerm"))
        .arg(ws.join("udev/deb/postrm"))
        .arg(ws.join(".ci/run")));
}

/// The dissector goes where this machine's Wireshark looks for global Lua
/// plugins, as the repository has it, and Wireshark loads it from there.
#[test]
fn the_wireshark_dissector_is_where_wireshark_looks_and_loads() {
    require("tshark", "tshark");
    let p = package("wireshark");
    let folders = stdout(&run(Command::new("tshark").args(["-G", "folders"])));
    let global = folders
        .lines()
        .find_map(|l| l.strip_prefix("Global Lua Plugins:"))
        .unwrap_or_else(|| panic!("no Global Lua Plugins in tshark -G folders:\n{folders}"))
        .trim()
        .trim_start_matches('/');
    let packaged = format!("{global}/t2-itc.lua");
    let listing = stdout(&run(Command::new("dpkg-deb").arg("-c").arg(&p.deb)));
    let line = listing
        .lines()
        .find(|l| l.ends_with(&format!(" ./{packaged}")))
        .unwrap_or_else(|| panic!("{packaged} is not in the package:\n{listing}"));
    assert!(line.starts_with("-rw-r--r-- root/root "), "{line}");
    let file = p.root.join(&packaged);
    assert_eq!(
        fs::read(&file).unwrap(),
        fs::read(workspace().join("tools/wireshark/t2-itc.lua")).unwrap(),
        "the packaged dissector is the repository's"
    );
    // Loaded from the unpacked package, it registers its protocol and
    // fields without a Lua error.
    let lua = format!("lua_script:{}", file.display());
    // -G must come first.
    let out = run(Command::new("tshark").args(["-G", "fields", "-X", &lua]));
    let fields = stdout(&out);
    assert!(
        fields
            .lines()
            .any(|l| l.starts_with("P\tT2 intertile\tt2itc")),
        "the protocol is not registered; stderr:\n{}",
        stderr(&out)
    );
    for field in [
        "t2itc.way",
        "t2itc.hdr.mfmt",
        "t2itc.hello.name",
        "t2itc.files.type",
    ] {
        assert!(
            fields.lines().any(|l| l.split('\t').nth(2) == Some(field)),
            "no field {field}"
        );
    }
    assert!(
        !stderr(&out).to_lowercase().contains("lua"),
        "{}",
        stderr(&out)
    );
    let suggests = stdout(&run(Command::new("dpkg-deb")
        .arg("-f")
        .arg(&p.deb)
        .arg("Suggests")));
    assert!(suggests.contains("tshark"), "Suggests: {suggests}");
}
