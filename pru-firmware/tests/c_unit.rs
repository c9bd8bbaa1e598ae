//! Runs the firmware's C unit tests (`make -C pru-firmware test`) as part of
//! `cargo test`, so one command runs every test of the project.

use std::process::Command;

#[test]
fn c_unit_tests_pass() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("make")
        .args(["-C", dir, "test"])
        .output()
        .expect("run make (install make and a C compiler)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "make -C pru-firmware test failed:\n{stdout}\n{stderr}"
    );
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .unwrap_or_default();
    assert!(summary.ends_with(" 0 failed"), "C tests: {summary:?}");
    println!("C unit tests: {summary}");
}
