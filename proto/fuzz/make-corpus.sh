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

# Batched messages (from a PRU, or from the host).
seed pru_batch two-packets 03 82 14 01 02 a6 55
seed pru_batch status-and-packet 03 c3 50 02 03 86 14 07
seed pru_batch lone-bounce 00 c5 01 82 14
seed pru_batch zero-length 02 82 14 00
seed pru_batch cut-off 05 82 14
seed pru_batch lone-empty 00
seed pru_batch framing-offer c6 01

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

# Reads of itc/capture: records one after another.
seed capture mfm-out 14 00 01 02 02 00 00 00 01 02 03 04 05 06 07 08 a2 de ad 01
seed capture drop-no-reader-then-lost 12 00 01 02 01 01 00 00 00 00 00 00 00 00 00 00 82 14 18 00 02 ff 00 00 00 00 00 00 00 00 00 00 00 00 11 00 00 00 00 00 00 00
seed capture cut-off 14 00 01 02 02 00 00 00 01 02 03
seed capture no-packet 10 00 01 02 01 00 00 00 00 00 00 00 00 00 00 00
seed capture bad-fate 11 00 01 02 01 08 00 00 00 00 00 00 00 00 00 00 a2
seed capture dir-st 11 00 01 04 01 00 00 00 00 00 00 00 00 00 00 00 a4

# The file service. Signed records are made with the key of seed [7; 32]
# (the key the targets trust; [9; 32] for an untrusted one), the way
# `itc files publish` makes them: ed25519 signatures are deterministic, so
# these bytes are what the library writes.

# Manifests (ITCM): 100 bytes in one piece, 2500 bytes in three, an
# empty file, signed by an untrusted key, with its last signature bit flipped.
seed files_manifest one-piece \
    49 54 43 4d 01 07 6d 61 70 2e 62 69 6e 00 00 00 00 00 00 00 03 00 00 00 \
    00 00 00 00 64 00 00 40 00 00 00 00 01 06 88 45 fc bf aa b0 04 00 71 a8 \
    cd 75 9e 04 06 09 33 6a 3e 83 ce de 31 07 74 d7 1f 53 fc 06 49 08 71 f3 \
    aa bc 26 e4 58 9e 4b 68 f4 13 a2 5d 72 53 7b b2 eb 1f c9 ff 3b ae 6b dd \
    47 6f bb f6 c9 5a 0d 6b a1 de 55 43 10 ac 98 e9 8a c2 b8 77 44 d4 92 48 \
    5d 9c d0 a6 7c df 0f 45 6b eb 47 e4 be 9e a3 bc 9c 24 20 1c 04
seed files_manifest three-pieces \
    49 54 43 4d 01 07 6d 61 70 2e 62 69 6e 00 00 00 00 00 00 00 04 00 00 00 \
    00 00 00 09 c4 00 00 40 00 00 00 00 01 a3 c2 3c 1e 3b b0 bc 9c d6 52 af \
    ab 06 a8 e3 8c 15 f6 9c 98 4e d7 33 0c 47 38 57 e1 69 38 ce 59 08 71 f3 \
    aa bc 26 e4 58 69 81 3e 1b 52 ef 69 29 9c f3 5a 8f fc c5 76 e0 71 3b 54 \
    b8 ce 21 0e 15 30 0c 64 2d 06 24 3b 7a af 0b d1 4b 58 c6 db 1a 9f 8b 6e \
    57 f0 43 da b5 84 81 f9 68 1a e0 07 92 6b c8 ac 21 cc 7e 0a 0b
seed files_manifest empty-file \
    49 54 43 4d 01 01 65 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 \
    00 40 00 00 00 00 00 08 71 f3 aa bc 26 e4 58 ba 1b 29 60 f7 b1 66 05 01 \
    73 19 4f 70 48 e0 82 88 4d 18 85 e0 af 64 1a 66 7f 9a 50 86 cb 68 6d 44 \
    26 2a 71 54 54 fd dc 74 86 76 8a 60 81 52 19 94 ea 23 73 ec 85 b9 9e 2c \
    c4 0f 67 a9 8d b0 0e
seed files_manifest untrusted-key \
    49 54 43 4d 01 07 6d 61 70 2e 62 69 6e 00 00 00 00 00 00 00 05 00 00 00 \
    00 00 00 00 64 00 00 40 00 00 00 00 01 06 88 45 fc bf aa b0 04 00 71 a8 \
    cd 75 9e 04 06 09 33 6a 3e 83 ce de 31 07 74 d7 1f 53 fc 06 49 8f d4 25 \
    0c 7e 19 a2 26 ea eb 94 07 56 93 68 76 e1 b0 ea c2 b4 98 63 c3 c0 e9 ff \
    4f 32 95 42 52 39 1b dd 19 14 75 bc ca 2e 85 27 c4 15 45 24 bb a0 69 32 \
    18 cd df 04 5b ef 25 5c df 4b bd 89 60 52 e3 1d cc 27 fa 7a 03
seed files_manifest bad-signature \
    49 54 43 4d 01 07 6d 61 70 2e 62 69 6e 00 00 00 00 00 00 00 03 00 00 00 \
    00 00 00 00 64 00 00 40 00 00 00 00 01 06 88 45 fc bf aa b0 04 00 71 a8 \
    cd 75 9e 04 06 09 33 6a 3e 83 ce de 31 07 74 d7 1f 53 fc 06 49 08 71 f3 \
    aa bc 26 e4 58 9e 4b 68 f4 13 a2 5d 72 53 7b b2 eb 1f c9 ff 3b ae 6b dd \
    47 6f bb f6 c9 5a 0d 6b a1 de 55 43 10 ac 98 e9 8a c2 b8 77 44 d4 92 48 \
    5d 9c d0 a6 7c df 0f 45 6b eb 47 e4 be 9e a3 bc 9c 24 20 1c 05

# Tombstones (ITCT): map.bin up to version 3, trusted and untrusted.
seed files_tombstone map-v3 \
    49 54 43 54 01 07 6d 61 70 2e 62 69 6e 00 00 00 00 00 00 00 03 08 71 f3 \
    aa bc 26 e4 58 6c a2 73 1a 1b cb 48 7d 44 20 1a 0d c7 7f 56 ce 22 e3 c3 \
    ae d2 7d 00 78 e3 86 c8 13 a7 d1 d5 33 24 ae 62 dd 52 3a 51 ca 95 55 2f \
    4e 76 2a 95 ae aa 43 7d 96 78 fd 43 7b 41 6b 19 64 92 0e ed 0c
seed files_tombstone untrusted-key \
    49 54 43 54 01 07 6d 61 70 2e 62 69 6e 00 00 00 00 00 00 00 03 8f d4 25 \
    0c 7e 19 a2 26 5f a1 d8 ca f5 15 a1 ca 5a a5 2c b6 c9 8d 5d 7d 9d 5d 85 \
    d8 a8 fc 60 df c8 6b 40 0f 47 5d 6e 29 9c 42 ca de 5a 36 7e ba a3 96 86 \
    4e 66 10 4b 4c 84 73 ef f2 8f 51 b0 fe 7f 57 61 39 7c f9 82 03

# File service messages (without the packet's two header bytes).
seed files_message announce-complete \
    01 01 01 07 6d 61 70 2e 62 69 6e 00 00 00 00 00 00 00 04 60 ee 6d 7e 30 \
    c6 8c 3d cc 0d 4d e6 fe a8 b3 8f 94 12 7e 8f c8 56 26 e0 31 f1 bd 6d 23 \
    4e 93 e1 00 00 00 8d
seed files_message announce-partial \
    01 01 00 07 6d 61 70 2e 62 69 6e 00 00 00 00 00 00 00 04 60 ee 6d 7e 30 \
    c6 8c 3d cc 0d 4d e6 fe a8 b3 8f 94 12 7e 8f c8 56 26 e0 31 f1 bd 6d 23 \
    4e 93 e1 00 00 00 8d 00 00 00 01 01 05
seed files_message tombstone \
    01 02 49 54 43 54 01 07 6d 61 70 2e 62 69 6e 00 00 00 00 00 00 00 03 08 \
    71 f3 aa bc 26 e4 58 6c a2 73 1a 1b cb 48 7d 44 20 1a 0d c7 7f 56 ce 22 \
    e3 c3 ae d2 7d 00 78 e3 86 c8 13 a7 d1 d5 33 24 ae 62 dd 52 3a 51 ca 95 \
    55 2f 4e 76 2a 95 ae aa 43 7d 96 78 fd 43 7b 41 6b 19 64 92 0e ed 0c
seed files_message request-manifest 01 03 60 ee 6d 7e 30 c6 8c 3d 01 00 00 00 00 00 00 00 00 02
seed files_message request-piece 01 03 60 ee 6d 7e 30 c6 8c 3d 02 00 00 00 01 00 00 00 ea 10
seed files_message data-piece \
    01 04 60 ee 6d 7e 30 c6 8c 3d 02 00 00 00 01 00 00 00 ea 00 07 0e 15 1c \
    23 2a 31 38 3f 46 4d 54 5b 62 69 70 77 7e 85 8c 93 9a a1 a8 af b6 bd c4 \
    cb d2 d9 e0 e7 ee f5 fc 03 0a 11
seed files_message retry 01 05 60 ee 6d 7e 30 c6 8c 3d 02 00 00 00 01 00 00 00 ea 00 64
seed files_message abort-superseded 01 06 01 01 01 01 01 01 01 01 02
seed files_message solicit 01 07
seed files_message bad-version 02 07
seed files_message unknown-type 01 08
seed files_message solicit-trailing 01 07 00
seed files_message request-count-0 01 03 60 ee 6d 7e 30 c6 8c 3d 02 00 00 00 01 00 00 00 ea 00
seed files_message abort-cut 01 06 01 01 01

# Writes to a batched packet file: items of a length byte and that many
# bytes; a zero length and a cut-off item end the whole items.
seed batch two-packets-and-a-tep 02 a2 01 03 82 10 55 02 c4 01
seed batch zero-length 02 a2 01 00 02 a2 02
seed batch cut-off 02 a2 01 05 82 10
one_max=(ff)
for _ in $(seq 255); do one_max+=(a2); done
seed batch one-max "${one_max[@]}"
