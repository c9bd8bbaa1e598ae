#!/usr/bin/env bash
# Writes the seed corpora in corpus/<target>/: a few small valid and
# near-valid inputs per fuzz target, each file one packet or PRU message,
# named for what it is. The files are committed; rerun this only to change
# the seeds.
set -euo pipefail
cd "$(dirname "$0")"

# seed TARGET NAME BYTE... : writes the hex BYTEs to corpus/TARGET/NAME.
seed() {
    local target=$1 name=$2
    shift 2
    mkdir -p "corpus/$target"
    printf '%b' "$(printf '\\x%s' "$@")" >"corpus/$target/$name"
}

rm -rf corpus

# Headers, and packets a user writes to a packet file.
seed header svc-to-et 82 02 aa bb
seed header mfm-from-nw-ovrn-eror bf 01 02
seed header mfm-to-wt a6
seed header tep-connect c4 01
seed header non-standard 3f 78
seed header stnd-locl-mfmt e5
seed header null-service 83 c0
seed header no-service-byte 82
seed header reserved-bits 82 42
seed header dir-st 84 02

# Messages from a PRU.
seed pru_message sync-gained-se c3 50 03
seed pru_message monitor-trailing c3 4d 46 99
seed pru_message frame-error-dir-st c3 46 04
seed pru_message timeout-no-arg c3 54
seed pru_message bounce-queue-full c5 01 82 02 01
seed pru_message bounce-no-sync-mfm c5 02 a1
seed pru_message bounce-empty c5 01
seed pru_message rx-hello 86 01 01 04 72 30 63 31 03 61 62 63
seed pru_message rx-echo-request 83 02 01 12 34
seed pru_message rx-mfm-ovrn b2 aa
seed pru_message labelled-value c1 41 00 00 00 01

# Hellos.
seed hello plain 86 01 01 04 72 30 63 31 03 61 62 63
seed hello ask 82 01 01 01 61 00 01
seed hello flags-reserved-trailing 99 c1 01 00 00 de ad
seed hello bad-utf8 86 01 01 01 ff 00
seed hello name-too-long 86 01 01 41
seed hello version-2 86 01 02
seed hello cut-in-physics 86 01 01 00 03 61

# Echo packets.
seed echo request 83 02 01 12 34
seed echo reply-empty 87 02 02
seed echo reserved-op 87 02 07
seed echo no-op 83 02
seed echo is-hello 83 01 01
seed echo mfm a3 02 01

# Tile Event Packets.
seed tep connect-sw c4 01 05
seed tep disconnect c4 02
seed tep events-lost-trailing c4 03 02 77
seed tep illegal c4 00
seed tep dir-nt c4 01 00
seed tep reserved-event c4 42
