//! The firmware's header (`include/itc_fw.h`, read through its Rust
//! bindings) and the protocol crate spell every shared byte the same way:
//! one of them changing alone fails here.

use itc_proto::field;
use itc_proto::{BounceReason, LinkCode, LINK_STATUS_LEN, MAX_BOUNCE_LEN, MAX_PACKET_LEN};
use pru_firmware::sys;

#[test]
fn header_bits_match_the_protocol_crate() {
    assert_eq!(sys::ITC_FW_HDR_KIND_MASK as u8, field::KIND);
    assert_eq!(sys::ITC_FW_HDR_ROUTED as u8, field::STND);
    assert_eq!(sys::ITC_FW_HDR_MFMT as u8, field::MFMT);
    assert_eq!(sys::ITC_FW_HDR_OVRN as u8, field::OVRN);
    assert_eq!(sys::ITC_FW_HDR_EROR as u8, field::EROR);
    assert_eq!(sys::ITC_FW_HDR_DIR_MASK as u8, field::DIR);
}

#[test]
fn packet_sizes_match_the_protocol_crate() {
    assert_eq!(sys::ITC_FW_MIN_PACKET as usize, 1);
    assert_eq!(sys::ITC_FW_MAX_PACKET as usize, MAX_PACKET_LEN);
    assert_eq!(sys::ITC_FW_MAX_HOST_MSG as usize, MAX_BOUNCE_LEN);
}

#[test]
fn host_messages_match_the_protocol_crate() {
    assert_eq!(sys::ITC_FW_MSG_LINK_STATUS as u8, field::TYPE_LINK_STATUS);
    assert_eq!(sys::ITC_FW_STATUS_LEN as usize, LINK_STATUS_LEN);
    let codes = [
        (sys::ITC_FW_STATUS_SYNC, LinkCode::SyncGained),
        (sys::ITC_FW_STATUS_FRAME, LinkCode::FrameError),
        (sys::ITC_FW_STATUS_TIMEOUT, LinkCode::Timeout),
        (sys::ITC_FW_STATUS_MONITOR, LinkCode::Monitor),
        (sys::ITC_FW_STATUS_DROPPED, LinkCode::FrameDropped),
    ];
    for (byte, code) in codes {
        assert_eq!(LinkCode::from_byte(byte as u8), code, "0x{byte:02x}");
    }
    assert_eq!(sys::ITC_FW_MSG_BOUNCE as u8, field::TYPE_BOUNCE);
    assert_eq!(
        BounceReason::from_byte(sys::ITC_FW_BOUNCE_QUEUE_FULL as u8),
        BounceReason::QueueFull
    );
    assert_eq!(
        BounceReason::from_byte(sys::ITC_FW_BOUNCE_NO_SYNC as u8),
        BounceReason::NoSync
    );
}
