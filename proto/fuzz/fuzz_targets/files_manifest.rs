//! Fuzz target: any bytes as a signed manifest (parse, accessors,
//! signature check); the same bytes also make a file whose manifest is
//! built, signed and checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    itc_proto_fuzz::check_manifest(data);
    itc_proto_fuzz::build_manifest(data);
});
