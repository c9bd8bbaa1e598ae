//! Compiles the firmware's host build (the same C sources as `make`) with
//! the `cc` crate. Needs only a C compiler: the Rust declarations of
//! `include/itc_fw.h` are committed in `rust/bindings.rs`, and
//! `tests/bindings.rs` checks that they still match the header.

const SOURCES: [&str; 6] = [
    "src/crc16.c",
    "src/link_tx.c",
    "src/link_rx.c",
    "src/fw.c",
    "src/hal_host.c",
    "src/host_api.c",
];
const HEADERS: [&str; 3] = ["include/itc_fw.h", "src/hal.h", "src/fw.h"];

fn main() {
    for path in SOURCES.iter().chain(HEADERS.iter()) {
        println!("cargo:rerun-if-changed={path}");
    }
    cc::Build::new()
        .std("c99")
        .files(SOURCES)
        .include("include")
        .include("src")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .opt_level(2)
        .compile("itcfw");
}
