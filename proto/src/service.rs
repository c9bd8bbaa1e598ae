//! Service numbers: the six-bit field in byte 1 of a routed packet whose
//! MFMT bit is clear.
//!
//! | svc    | use                                                      |
//! |--------|----------------------------------------------------------|
//! | 0      | null, never valid                                        |
//! | 1      | hello, between neighbouring `itcd`s; no file in the tree |
//! | 2      | echo: `itcd` answers requests, replies go to `svc/02`    |
//! | 3..=7  | reserved for the stack                                   |
//! | 8      | managed file update (`itc-files`)                        |
//! | 9..=15 | reserved for the stack                                   |
//! | 16..=63| free for applications                                    |
#![forbid(unsafe_code)]

use core::ops::RangeInclusive;

/// Service 0: null, never valid on the wire.
pub const SVC_NULL: u8 = 0;
/// Service 1: hello between neighbouring `itcd`s.
pub const SVC_HELLO: u8 = 1;
/// Service 2: echo (ping).
pub const SVC_ECHO: u8 = 2;
/// Service 8: managed file update.
pub const SVC_FILE_UPDATE: u8 = 8;
/// The largest service number (six bits).
pub const MAX_SERVICE: u8 = 63;
/// The first service number free for applications.
pub const FIRST_APP_SERVICE: u8 = 16;

/// The services that have packet files in the tree (`svc/NN`): all but
/// null and hello, which `itcd` keeps to itself.
pub const FILE_SERVICES: RangeInclusive<u8> = 2..=MAX_SERVICE;

/// Who a service number belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// Service 0: never valid.
    Null,
    /// Answered by `itcd` itself (hello; echo requests).
    Itcd,
    /// Reserved for the stack's own services (file update among them).
    Stack,
    /// Free for applications.
    Application,
    /// Above [`MAX_SERVICE`]: not a service number.
    Invalid,
}

/// Who owns service `n`.
pub const fn owner(n: u8) -> Owner {
    match n {
        SVC_NULL => Owner::Null,
        SVC_HELLO | SVC_ECHO => Owner::Itcd,
        3..=15 => Owner::Stack,
        FIRST_APP_SERVICE..=MAX_SERVICE => Owner::Application,
        _ => Owner::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_follow_the_table() {
        assert_eq!(owner(0), Owner::Null);
        assert_eq!(owner(1), Owner::Itcd);
        assert_eq!(owner(2), Owner::Itcd);
        assert_eq!(owner(8), Owner::Stack);
        assert_eq!(owner(15), Owner::Stack);
        assert_eq!(owner(16), Owner::Application);
        assert_eq!(owner(63), Owner::Application);
        assert_eq!(owner(64), Owner::Invalid);
        assert!(!FILE_SERVICES.contains(&1) && FILE_SERVICES.contains(&2));
        assert!(FILE_SERVICES.contains(&63) && !FILE_SERVICES.contains(&64));
    }
}
