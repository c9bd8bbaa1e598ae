/*
 * itc_fw.h - the public face of the T2 intertile PRU firmware.
 *
 * One firmware instance drives the three links of one PRU. Each link has,
 * per direction of travel, a clock line and a data line. The transmitter
 * toggles its clock once per bit time and puts one bit on the data line
 * with it; the receiver takes a bit whenever its clock input changes level.
 *
 * Framing is HDLC-like: 0x7e delimiters (sent continuously while idle), a 0
 * stuffed after five consecutive 1s, bytes LSB first, and a CRC-16/X-25
 * frame check sequence (FCS) appended low byte first. See
 * docs/pru-messages.md for the messages exchanged with the host.
 *
 * The constants here are the single definition shared by the C firmware and
 * the Rust binding (bindgen reads this file), so they are plain #defines.
 */
#ifndef ITC_FW_H
#define ITC_FW_H

#include <stddef.h>
#include <stdint.h>

/* --- Sizes ------------------------------------------------------------ */

/* Shortest and longest packet a frame carries (docs/reference.md). */
#define ITC_FW_MIN_PACKET 1
#define ITC_FW_MAX_PACKET 255
/* Bytes of frame check sequence after the packet. */
#define ITC_FW_FCS_LEN 2
/* Shortest and longest frame between two delimiters, in unstuffed bytes. */
#define ITC_FW_MIN_FRAME (ITC_FW_MIN_PACKET + ITC_FW_FCS_LEN)
#define ITC_FW_MAX_FRAME (ITC_FW_MAX_PACKET + ITC_FW_FCS_LEN)
/* Longest message to the host: a bounce, 0xc5 REASON + a whole packet. */
#define ITC_FW_MAX_HOST_MSG (ITC_FW_MAX_PACKET + 2)
/* Longest message rpmsg carries from the host: a 512-byte buffer less its
 * 16-byte header. The firmware receives whole messages up to this length
 * and ignores (counts, never truncates) any longer than a packet. */
#define ITC_FW_MAX_RPMSG_MSG 496
/* Links per PRU. */
#define ITC_FW_DIRS 3
/* Outbound ring per direction, in bytes: each packet takes 1 + its length,
 * so four 255-byte packets fit, or many short ones, besides the packet of
 * the frame being sent. */
#define ITC_FW_RING_BYTES 1024
/* Host build: messages the firmware holds for the host (like rpmsg's
 * buffers on the board); when full, received packets are lost (OVRN).
 * The PRU build waits for a free rpmsg buffer instead (docs/pru-messages.md). */
#define ITC_FW_TO_HOST_SLOTS 16
/* Host build: messages from the host not yet taken by the firmware; when
 * full, itc_fw_push_host refuses, as a full rpmsg queue would. */
#define ITC_FW_FROM_HOST_SLOTS 4

/* --- Framing and frame check ------------------------------------------- */

/* The delimiter byte, 0111 1110. */
#define ITC_FW_FLAG 0x7e
/* A 0 is stuffed after this many consecutive 1s of data. */
#define ITC_FW_STUFF_AFTER 5
/* The longest frame on the line, in line bits: ITC_FW_MAX_FRAME bytes of
 * 1s, a 0 stuffed after every ITC_FW_STUFF_AFTER of them. */
#define ITC_FW_MAX_FRAME_LINE_BITS                                          \
    (ITC_FW_MAX_FRAME * 8 + ITC_FW_MAX_FRAME * 8 / ITC_FW_STUFF_AFTER)
/* CRC-16/X-25: reflected polynomial 0x1021, init and final xor 0xffff. */
#define ITC_FW_CRC_POLY 0x8408
#define ITC_FW_CRC_INIT 0xffff
#define ITC_FW_CRC_XOROUT 0xffff
/* The CRC of the ASCII string "123456789" (the standard check value). */
#define ITC_FW_CRC_CHECK 0x906e
/* The register (before the final xor) after a packet and its FCS, low
 * byte first: the same for every good frame, so a receiver folds in each
 * byte as it arrives and compares once at the closing delimiter. */
#define ITC_FW_CRC_RESIDUE 0xf0b8

/* --- Packet header (docs/reference.md) --------------------------------- */

#define ITC_FW_HDR_KIND_MASK 0xc0 /* bits 7..6 */
#define ITC_FW_HDR_ROUTED 0x80    /* 10xx xxxx: a routed packet */
#define ITC_FW_HDR_MFMT 0x20      /* MFM traffic */
#define ITC_FW_HDR_OVRN 0x10      /* packets were lost before this one */
#define ITC_FW_HDR_EROR 0x08      /* this packet arrived damaged */
#define ITC_FW_HDR_DIR_MASK 0x07  /* dir8 */

/* --- Messages to the host (docs/pru-messages.md) ------------------------ */

/* Link status: 0xc3, CODE, ARG. */
#define ITC_FW_MSG_LINK_STATUS 0xc3
#define ITC_FW_STATUS_SYNC 0x50    /* 'P': packet sync gained, ARG dir8 */
#define ITC_FW_STATUS_FRAME 0x46   /* 'F': no delimiter where one must come,
                                    * sync lost, ARG dir8 */
#define ITC_FW_STATUS_TIMEOUT 0x54 /* 'T': no clock, sync lost, ARG dir8 */
#define ITC_FW_STATUS_MONITOR 0x4d /* 'M': ARG bitmap, bit dir8 = has sync */
#define ITC_FW_STATUS_DROPPED 0x45 /* 'E': one damaged frame dropped (bad
                                    * FCS, abort, misaligned or over-long),
                                    * sync kept, ARG dir8 */
#define ITC_FW_STATUS_LEN 3
/* Bounce: 0xc5, REASON, original packet. */
#define ITC_FW_MSG_BOUNCE 0xc5
#define ITC_FW_BOUNCE_QUEUE_FULL 1
#define ITC_FW_BOUNCE_NO_SYNC 2

/* --- Pins --------------------------------------------------------------- */

/* Output register R30 carries, per prudir, the link's outgoing clock and
 * data from bit ITC_FW_PIN_OUT_BASE; input register R31 the neighbour's
 * clock and data from bit ITC_FW_PIN_IN_BASE. On the AM335x, R30 bit n and
 * R31 bit n of one PRU are the same ball in two pinmux modes, so a bit can
 * be an output or an input, never both: the two sets are disjoint, and
 * within the bits a PRU brings out (R30 0..15, R31 0..16). Not checked
 * against the T2 cape; see README.md, "Pins". */
#define ITC_FW_PINS_PER_DIR 2
#define ITC_FW_PIN_CLK_BIT 0
#define ITC_FW_PIN_DATA_BIT 1
#define ITC_FW_PIN_OUT_BASE 0 /* R30 bits 0..5 */
#define ITC_FW_PIN_IN_BASE 8  /* R31 bits 8..13 */
#define ITC_FW_PIN_OUT_CLK(prudir)                                          \
    (1u << (ITC_FW_PIN_OUT_BASE + ITC_FW_PINS_PER_DIR * (prudir) + ITC_FW_PIN_CLK_BIT))
#define ITC_FW_PIN_OUT_DATA(prudir)                                         \
    (1u << (ITC_FW_PIN_OUT_BASE + ITC_FW_PINS_PER_DIR * (prudir) + ITC_FW_PIN_DATA_BIT))
#define ITC_FW_PIN_IN_CLK(prudir)                                           \
    (1u << (ITC_FW_PIN_IN_BASE + ITC_FW_PINS_PER_DIR * (prudir) + ITC_FW_PIN_CLK_BIT))
#define ITC_FW_PIN_IN_DATA(prudir)                                          \
    (1u << (ITC_FW_PIN_IN_BASE + ITC_FW_PINS_PER_DIR * (prudir) + ITC_FW_PIN_DATA_BIT))
/* All the link bits of each register (fw.c asserts they match the above). */
#define ITC_FW_PIN_OUT_MASK 0x003f
#define ITC_FW_PIN_IN_MASK 0x3f00
/* The bits each register brings out of a PRU. */
#define ITC_FW_R30_PINS 0x0000ffff
#define ITC_FW_R31_PINS 0x0001ffff

/* --- Defaults ------------------------------------------------------------ */

/* Bit times without a clock edge before a direction reports a timeout. */
#define ITC_FW_DEFAULT_TIMEOUT_BITS 1024
/* Bit times between monitor reports: one second at 2.5 Mbit/s. */
#define ITC_FW_DEFAULT_MONITOR_BITS 2500000
/* Bit times a host packet may wait for room in a full ring before it is
 * bounced "queue full": long enough for a whole ring (1024 bytes, ~10k
 * line bits) to drain, so a link that is moving never bounces. */
#define ITC_FW_DEFAULT_HOLD_BITS 16384

/* Directions of PRU 0 and PRU 1 by prudir, as dir8 (docs/reference.md). */
#define ITC_FW_PRU0_DIR8 {2, 3, 5} /* ET SE SW */
#define ITC_FW_PRU1_DIR8 {6, 7, 1} /* WT NW NE */

/* Steps per transmitted bit in the host build's lockstep simulation: both
 * ends step together, so the receiver sees every clock edge even when the
 * clock toggles every step. Two free-running PRUs need at least 2 (the PRU
 * build uses 3; README.md, "Timing on the PRU"). */
#define ITC_FW_DEFAULT_TX_STEPS_PER_BIT 1
/* Most steps per bit (the phase counters are 8-bit). */
#define ITC_FW_MAX_TX_STEPS_PER_BIT 255

/*
 * Tunables; itc_fw_config_default fills in the defaults above.
 *
 * Each step samples every input once; the receiver takes a bit per clock
 * edge it sees. The transmitter holds each bit for tx_steps_per_bit steps:
 * it puts the data out at the bit's first step and toggles its clock
 * (tx_steps_per_bit - 1) / 2 steps later, so with 3 or more the data leads
 * the clock edge by a step and stays 2 or more steps after it. A receiver
 * stepping up to (steps per bit - edge step) times slower than the
 * transmitter still samples each clock level and reads valid data.
 * Timeouts, monitor and hold times are in bit times of this end, i.e.
 * tx_steps_per_bit steps each.
 */
struct itc_fw_config {
    uint32_t timeout_bits;     /* 0: never time out */
    uint32_t monitor_bits;     /* 0: no monitor reports */
    uint32_t hold_bits;        /* 0: bounce at once when a ring is full */
    uint32_t tx_steps_per_bit; /* 1..ITC_FW_MAX_TX_STEPS_PER_BIT; 0 means 1 */
};

/* Counters of one direction. A damaged frame ('E': dropped, sync kept)
 * counts in exactly one of crc_errors, aborts, misaligned and overlong. */
struct itc_fw_dir_stats {
    uint32_t frames_sent;       /* frames put on the wire */
    uint32_t packets_received;  /* good packets handed to the host */
    uint32_t crc_errors;        /* frame check failed */
    uint32_t aborts;            /* seven or more 1s inside a frame */
    uint32_t misaligned;        /* delimiter not on a byte boundary */
    uint32_t overlong;          /* more than ITC_FW_MAX_FRAME bytes
                                 * before a delimiter */
    uint32_t no_delimiter;      /* in sync, no delimiter within the
                                 * longest frame after noise or a dropped
                                 * frame: sync lost ('F') */
    uint32_t runts;             /* line noise: a delimiter or abort fewer
                                 * than ITC_FW_MIN_FRAME * 8 line bits
                                 * after a delimiter; dropped, sync kept,
                                 * not a frame error */
    uint32_t not_routed;        /* good frames that held no routed packet */
    uint32_t timeouts;          /* clock lost */
    uint32_t syncs;             /* packet sync gained */
    uint32_t host_overruns;     /* good packets lost: host side full */
    uint32_t bounced_full;      /* host packets bounced, queue full */
    uint32_t bounced_no_sync;   /* host packets bounced, no sync */
};

/* Counters of one firmware instance. */
struct itc_fw_stats {
    struct itc_fw_dir_stats dir[ITC_FW_DIRS];
    uint32_t host_ignored;  /* host messages that were not routed packets
                             * (including any longer than a packet) */
    uint32_t status_lost;   /* status or bounce messages the host lost */
    uint8_t sync_bitmap;    /* bit dir8 set for each direction with sync */
    uint8_t started;        /* the host has sent its start message */
};

/* The dir8 of `prudir` on PRU `pru`, or 0xff if either is out of range. */
uint8_t itc_fw_dir8(unsigned pru, unsigned prudir);

/* CRC-16/X-25 of `len` bytes (final xor applied). */
uint16_t itc_fw_crc16(const uint8_t *data, size_t len);

void itc_fw_config_default(struct itc_fw_config *cfg);

#ifndef ITC_FW_TARGET_PRU
/*
 * Host build: the firmware as a library, its pins and host messages
 * simulated. The caller owns the clock: each itc_fw_step is one step.
 */
struct itc_fw;

/* A new instance for PRU `pru` (0 or 1); `cfg` NULL means the defaults.
 * NULL if out of memory or `pru` is not 0 or 1. */
struct itc_fw *itc_fw_new(unsigned pru, const struct itc_fw_config *cfg);
void itc_fw_free(struct itc_fw *fw);

/* One step (a bit time when tx_steps_per_bit is 1): take the input pins,
 * run the links and the host side, drive the output pins. */
void itc_fw_step(struct itc_fw *fw);
/* Sets the input register R31 read by the next step. */
void itc_fw_set_inputs(struct itc_fw *fw, uint32_t r31);
/* The output register R30 as the last step left it. */
uint32_t itc_fw_outputs(const struct itc_fw *fw);

/* Queues one message from the host (0..=ITC_FW_MAX_RPMSG_MSG bytes, as
 * rpmsg carries; the first must be empty, and one longer than
 * ITC_FW_MAX_PACKET is ignored and counted as host_ignored). 0 on success,
 * -1 if the queue is full or `len` is longer than rpmsg allows. */
int itc_fw_push_host(struct itc_fw *fw, const uint8_t *msg, size_t len);
/* Takes the oldest message for the host into `buf` (`cap` bytes; a longer
 * message is truncated). Its length, or -1 if there is none. */
int itc_fw_pop_host(struct itc_fw *fw, uint8_t *buf, size_t cap);
/* Messages waiting for the host. */
unsigned itc_fw_host_pending(const struct itc_fw *fw);

/* Nonzero when stepping would change nothing but the wires' idle
 * delimiters: nothing to send or in flight, every receiver either in sync
 * between frames or timed out, no host message waiting. A simulation may
 * then stop stepping every instance at once (the wires freeze and resume
 * seamlessly) and account for the wall time with itc_fw_advance_idle. */
int itc_fw_quiescent(const struct itc_fw *fw);
/* Advances the firmware's timers by `bits` bit times (of tx_steps_per_bit
 * steps each) without touching the
 * wires (only meaningful while quiescent): monitor reports fall due. */
void itc_fw_advance_idle(struct itc_fw *fw, uint32_t bits);

void itc_fw_get_stats(const struct itc_fw *fw, struct itc_fw_stats *out);
#endif /* !ITC_FW_TARGET_PRU */

#endif /* ITC_FW_H */
