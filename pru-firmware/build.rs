//! Compiles the firmware's host build (the same C sources as `make`) and
//! generates the Rust declarations from `include/itc_fw.h`, so Rust and C
//! share one definition of every constant and struct.

use std::env;
use std::error::Error;
use std::path::PathBuf;

const SOURCES: [&str; 6] = [
    "src/crc16.c",
    "src/link_tx.c",
    "src/link_rx.c",
    "src/fw.c",
    "src/hal_host.c",
    "src/host_api.c",
];
const HEADERS: [&str; 3] = ["include/itc_fw.h", "src/hal.h", "src/fw.h"];

fn main() -> Result<(), Box<dyn Error>> {
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

    let bindings = bindgen::Builder::default()
        .header("include/itc_fw.h")
        .allowlist_function("itc_fw_.*")
        .allowlist_type("itc_fw_.*")
        .allowlist_var("ITC_FW_.*")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()?;
    let out = PathBuf::from(env::var("OUT_DIR")?).join("bindings.rs");
    bindings.write_to_file(out)?;
    Ok(())
}
