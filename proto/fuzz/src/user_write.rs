//! [`check_user_write`], the validation of a packet a user writes to a
//! packet file, against a model written from its documentation: the same
//! checks in the same order, each failing with its own error.

use itc_proto::{check_user_write, field, Dir, Error, HeaderRepr, Packet, RoutedHeader};
use itc_proto::{MAX_PACKET_LEN, MAX_SERVICE};

/// Runs `check_user_write` on `data` as an `mfm` file and as service files
/// (any service, the packet's own service, and a service taken from the
/// last byte, which may be 0 or above 63), comparing each answer with the
/// model; an accepted packet must also parse as the header the file needs.
pub fn check_user_writes(data: &[u8]) {
    let own = data.get(field::SERVICE).map(|b| b & field::SVC);
    let last = data.last().copied();
    for (want_mfm, want_service) in [
        (true, None),
        (true, last),
        (false, None),
        (false, own),
        (false, last),
    ] {
        let got = check_user_write(data, want_mfm, want_service);
        assert_eq!(
            got,
            model(data, want_mfm, want_service),
            "check_user_write(mfm={want_mfm}, service={want_service:?}) disagrees with its documentation"
        );
        if let Ok(dir) = got {
            let header = HeaderRepr::parse(&Packet::new_unchecked(data))
                .expect("an accepted packet has a header that does not parse");
            let HeaderRepr::Routed(RoutedHeader {
                mfm,
                ovrn: false,
                eror: false,
                dir: dir8,
                service,
            }) = header
            else {
                panic!("an accepted packet is not routed without flags: {header:?}");
            };
            assert_eq!(mfm, want_mfm);
            assert_eq!(dir8, dir.dir8());
            if let Some(want) = want_service.filter(|_| !want_mfm) {
                assert_eq!(service, Some(want));
            }
        }
    }
}

/// What `check_user_write` is documented to return.
fn model(bytes: &[u8], want_mfm: bool, want_service: Option<u8>) -> Result<Dir, Error> {
    let len = bytes.len();
    let &b0 = bytes.first().ok_or(Error::Empty)?;
    if len > MAX_PACKET_LEN {
        return Err(Error::TooLong { len });
    }
    if b0 & (field::STND | field::LOCL) != field::STND {
        return Err(Error::NotRouted(b0));
    }
    if (b0 & field::MFMT != 0) != want_mfm {
        return Err(Error::WrongKind(b0));
    }
    if b0 & (field::OVRN | field::EROR) != 0 {
        return Err(Error::FlagsSet(b0));
    }
    if !want_mfm {
        if let Some(want) = want_service.filter(|&w| w == 0 || w > MAX_SERVICE) {
            return Err(Error::BadService(want));
        }
        let &b1 = bytes.get(1).ok_or(Error::Truncated { len, need: 2 })?;
        if b1 & field::RSV != 0 {
            return Err(Error::ReservedBits(b1));
        }
        let got = b1 & field::SVC;
        if got == 0 {
            return Err(Error::BadService(0));
        }
        if let Some(want) = want_service.filter(|&w| w != got) {
            return Err(Error::WrongService { want, got });
        }
    }
    let d = b0 & field::DIR;
    Dir::from_dir8(d).map_err(|_| Error::BadDir(d))
}
