//! Runs the firmware's C checks as part of `cargo test`, so one command runs
//! every test of the project: the C unit tests (`make -C pru-firmware test`:
//! the host build, and the PRU build's HAL against a model of the board)
//! and the host compile of the PRU sources (`make -C pru-firmware pru-check`).

use std::process::Command;
use std::sync::{Mutex, PoisonError};

/// One `make` at a time: `test` and `pru-check` share objects under
/// `build/pru-check`, and the tests of this file run in parallel.
static MAKE: Mutex<()> = Mutex::new(());

/// Runs `make -C pru-firmware <target>`, fails the test if it fails, and
/// returns its standard output.
fn make(target: &str) -> String {
    let _one_at_a_time = MAKE.lock().unwrap_or_else(PoisonError::into_inner);
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("make")
        .args(["-C", dir, target])
        .output()
        .expect("run make (install make and a C compiler)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "make -C pru-firmware {target} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

#[test]
fn c_unit_tests_pass() {
    let stdout = make("test");
    // One summary per test program: test_fw (host build), test_hal_pru
    // (the PRU build's HAL against a model of rpmsg and the INTC).
    let summaries: Vec<&str> = stdout.lines().filter(|l| l.contains(" passed, ")).collect();
    assert_eq!(summaries.len(), 2, "C test summaries: {summaries:?}");
    for summary in &summaries {
        assert!(summary.ends_with(" 0 failed"), "C tests: {summary:?}");
    }
    println!("C unit tests: {summaries:?}");
}

/// `hal_pru.c`, `main_pru.c` and the shared sources, built for PRU0 and
/// PRU1 by the host compiler against `tests/ssp-stub/` (the PRU support
/// package's declarations) with `-Werror`; `resource_table.h` asserts its
/// layout at compile time. Fails when any of them stops compiling.
#[test]
fn board_sources_compile_against_ssp_declarations() {
    make("pru-check");
}
