//! `itc capture -w FILE`: capture records as a pcapng file.
//!
//! - One interface per direction, in the order ET SE SW WT NW NE
//!   (interface 0..=5, named after the direction), and interface 6,
//!   `lost`, for the records a slow reader lost. Link type
//!   `LINKTYPE_USER0` (147); timestamps in nanoseconds (`if_tsresol` 9).
//! - Each packet is the capture record as `itc/capture` gave it: the
//!   16-byte record header (the pseudo-header: way, fate and drop reason,
//!   time) and then the packet. `tools/wireshark/t2-itc.lua` decodes it.
//! - The EPB flags carry the way: inbound (1) or outbound (2).
//!
//! Each block is written whole and flushed, so the file is valid after
//! every packet, and `-w -` streams to `wireshark -k -i -`.

use std::borrow::Cow;
use std::io::Write;
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use itc_proto::capture::{CaptureRecord, Way};
use itc_proto::Dir;

/// The interface of lost records.
pub const LOST_INTERFACE: u32 = 6;

/// EPB flags: inbound.
pub const FLAG_INBOUND: u32 = 1;
/// EPB flags: outbound.
pub const FLAG_OUTBOUND: u32 = 2;

/// A pcapng file being written.
pub struct Pcapng<W: Write> {
    writer: PcapNgWriter<W>,
}

/// The error of a write: the file cannot be written.
pub type WriteError = pcap_file::PcapError;

impl<W: Write> Pcapng<W> {
    /// Starts the file: section header and the seven interfaces.
    pub fn new(out: W) -> Result<Pcapng<W>, WriteError> {
        let mut writer = PcapNgWriter::new(out)?;
        let names = Dir::ALL.iter().map(|d| d.name()).chain(["lost"]);
        for name in names {
            writer.write_pcapng_block(InterfaceDescriptionBlock {
                linktype: DataLink::USER0,
                snaplen: 0,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(name.to_string())),
                    InterfaceDescriptionOption::IfTsResol(9),
                ],
            })?;
        }
        let mut p = Pcapng { writer };
        p.flush()?;
        Ok(p)
    }

    /// Adds a record (`raw` is its bytes, `rec` the same decoded).
    pub fn record(&mut self, rec: &CaptureRecord<'_>, raw: &[u8]) -> Result<(), WriteError> {
        let (interface_id, options) = match *rec {
            CaptureRecord::Packet { dir, way, .. } => {
                let flags = match way {
                    Way::In => FLAG_INBOUND,
                    Way::Out => FLAG_OUTBOUND,
                };
                (dir.index() as u32, vec![EnhancedPacketOption::Flags(flags)])
            }
            CaptureRecord::Lost { .. } => (LOST_INTERFACE, Vec::new()),
        };
        self.writer.write_pcapng_block(EnhancedPacketBlock {
            interface_id,
            timestamp: Duration::from_nanos(rec.time_ns()),
            original_len: raw.len() as u32,
            data: Cow::Borrowed(raw),
            options,
        })?;
        self.flush()
    }

    /// Pushes everything written to the file.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.writer
            .get_mut()
            .flush()
            .map_err(pcap_file::PcapError::IoError)
    }
}
