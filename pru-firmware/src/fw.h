/*
 * fw.h - the firmware's state, shared by its source files. Everything is
 * statically sized: the PRU has no allocator and 8 KiB of data RAM.
 */
#ifndef ITC_FW_INTERNAL_H
#define ITC_FW_INTERNAL_H

#include <stdint.h>

#include "hal.h"
#include "itc_fw.h"

/* Transmitter phases. */
enum tx_phase {
    TX_IDLE,  /* sending delimiters; a queued packet starts a frame */
    TX_DATA,  /* sending the packet's bytes, straight from the ring */
    TX_FCS,   /* sending the FCS, low byte first */
    TX_CLOSE, /* the closing delimiter goes next */
};

/* The outbound ring: ITC_FW_RING_BYTES of queue, and room besides for the
 * packet of the frame being sent, whose bytes stay in the ring until they
 * go out (so no step copies a whole packet). */
#define TX_RING_SIZE (ITC_FW_RING_BYTES + ITC_FW_MAX_PACKET)

struct itc_tx {
    /* Packets as [len][bytes...], oldest at head; while a frame is being
     * sent, head is its next unsent byte. */
    uint8_t ring[TX_RING_SIZE];
    uint16_t head;
    uint16_t count;
    /* Bytes of the frame's packet (TX_DATA) or FCS (TX_FCS) still to go. */
    uint16_t left;
    /* The CRC register over the packet bytes sent so far; in TX_FCS, the
     * FCS bytes not yet sent, next in the low byte. */
    uint16_t crc;
    /* Bytes folded into crc since tx_init (tests bound them per step). */
    uint32_t crc_bytes;
    uint8_t phase;
    /* The bits now on their way out of the closing delimiter: the frame is
     * not complete at the far end until they have left. */
    uint8_t closing;
    /* Line bits ready to go out, next one in bit 0. */
    uint16_t raw;
    uint8_t nraw;
    uint8_t ones; /* consecutive 1s of data sent, for stuffing */
    uint8_t clk;  /* the clock line's level */
    uint8_t data; /* the data line's level */
};

struct itc_rx {
    uint8_t last_clk;
    uint8_t timed_out;
    uint32_t quiet; /* steps since the last clock edge */
    uint8_t synced;
    /* In sync, but skipping line noise (a runt abort) until the next
     * delimiter: no frame is being received. */
    uint8_t discarding;
    /* Line bits since the last delimiter (in sync; saturates). */
    uint16_t line_bits;
    /* Consecutive 1s on the line (saturates above 7). */
    uint8_t ones;
    /* Data bits held back because they may turn out to be the start of a
     * delimiter: the last data 0 and the 1s after it (0..6 bits). */
    uint8_t pending;
    /* Unstuffed bits of the current frame committed to buf. */
    uint16_t nbits;
    uint8_t buf[ITC_FW_MAX_FRAME];
    /* Length of a good packet in buf waiting in the outbox (0: none);
     * buf is not written until it has gone to the host. */
    uint16_t deliver_len;
    /* The CRC register over the whole bytes committed to buf, FCS
     * included: ITC_FW_CRC_RESIDUE at the end of a good frame. */
    uint16_t crc;
    /* Bytes folded into crc since rx_init (tests bound them per step). */
    uint32_t crc_bytes;
    /* A good packet was lost toward the host: mark the next with OVRN. */
    uint8_t lost;
};

/* Where a host message starts in the hold's buffer: after room for the
 * bounce header (0xc5, REASON), so a bounce is sent from the buffer as it
 * stands. */
#define HOLD_AT 2

/* A message taken from the host, waiting for room in its ring or for its
 * bounce to go out. msg + HOLD_AT is also where hal_recv puts each
 * message, so it holds the longest rpmsg message, not just the longest
 * packet. */
struct itc_hold {
    uint8_t full;
    uint8_t bouncing; /* in the outbox as a bounce: not to be placed */
    uint8_t prudir;
    uint16_t len;
    /* Where the held packet starts in msg (HOLD_AT, or an item of a
     * batch: its bounce header goes in the two bytes before it, which
     * are spent); and the batch's items not yet taken, [next, end). */
    uint16_t at;
    uint16_t next;
    uint16_t end;
    uint32_t waited;
    uint8_t msg[HOLD_AT + ITC_FW_MAX_RPMSG_MSG];
};

/* What goes to the host, in order. One message is sent at a time, from
 * the head of the outbox, at the end of a step once the pins are driven
 * (fw_step); the PRU's HAL spreads each over several steps, a bounded
 * piece per step, and the entry stays at the head until it is done.
 * Packets and bounces are sent from where they already are (a receiver's
 * buf, the hold), which stay untouched until then; so an entry only says
 * which. */
enum out_kind {
    OUT_STATUS, /* 0xc3, a, b */
    OUT_PACKET, /* the good packet in rx[a].buf */
    OUT_BOUNCE, /* the hold's message, bounced for reason a */
    OUT_FRAMING, /* the framing agreement, 0xc6 a */
};

struct itc_out {
    uint8_t kind;
    uint8_t a;
    uint8_t b;
};

/* Enough for a status and a packet from every link, a bounce and the
 * start's reports; when full, the oldest is sent at once. */
#define OUTBOX_SLOTS 16

struct itc_outbox {
    struct itc_out q[OUTBOX_SLOTS];
    uint8_t head;
    uint8_t count;
    /* The head entry is under way in the HAL (hal_send returned
     * HAL_SENDING). */
    uint8_t sending;
    /* The status or framing message under way: its bytes stay here
     * until sent. */
    uint8_t status[ITC_FW_STATUS_LEN];
};

struct itc_fw {
    uint8_t pru;
    uint8_t started;
    /* The host offered batched messages (applies at its next start). */
    uint8_t offered;
    /* Messages from the host are batched (since the last start). */
    uint8_t batch_in;
    struct itc_fw_config cfg;
    /* The transmitters' bit: steps per bit, the step of the clock edge,
     * and this step's place in the bit (all directions in phase). */
    uint8_t steps_per_bit;
    uint8_t clk_step;
    uint8_t bit_step;
    /* The config's times in steps. */
    uint32_t timeout_steps;
    uint32_t monitor_steps;
    uint32_t hold_steps;
    uint32_t monitor_left;
    struct itc_tx tx[ITC_FW_DIRS];
    struct itc_rx rx[ITC_FW_DIRS];
    struct itc_hold hold;
    struct itc_outbox out;
    struct itc_fw_stats stats;
    struct itc_hal hal;
};

/* crc16.c: one byte folded into a CRC-16/X-25 register (no final xor):
 * a table lookup, cheap enough for one per link per step. */
extern const uint16_t crc16_table[256];

static inline uint16_t crc16_byte(uint16_t crc, uint8_t byte)
{
    return (uint16_t)((crc >> 8) ^ crc16_table[(crc ^ byte) & 0xffu]);
}

/* fw.c */
void fw_init(struct itc_fw *fw, unsigned pru, const struct itc_fw_config *cfg);
void fw_step(struct itc_fw *fw);
void fw_send_status(struct itc_fw *fw, uint8_t code, uint8_t arg);
/* Queues the good packet of `len` bytes in rx[prudir].buf for the host. */
void fw_deliver(struct itc_fw *fw, unsigned prudir, uint16_t len);
/* The step's piece of sending the outbox's oldest message, if any: starts
 * it, or moves it on (hal_send_more); the entry leaves once it is sent. */
void fw_send_one(struct itc_fw *fw);
/* Sends what the outbox holds up to and including rx[prudir]'s packet,
 * now: its buf is about to be written. */
void fw_flush_delivery(struct itc_fw *fw, unsigned prudir);
int fw_quiescent(const struct itc_fw *fw);
void fw_advance_idle(struct itc_fw *fw, uint32_t bits);
/* `bits` bit times in steps, saturating. */
uint32_t fw_steps(const struct itc_fw *fw, uint32_t bits);

/* link_tx.c */
void tx_init(struct itc_tx *tx);
uint16_t tx_room(const struct itc_tx *tx);
int tx_enqueue(struct itc_tx *tx, const uint8_t *pkt, uint16_t len);
/* The next line bit (the caller toggles the clock). */
uint8_t tx_next_bit(struct itc_tx *tx);
int tx_idle(const struct itc_tx *tx);

/* link_rx.c: one sampled input; reports through fw. */
void rx_init(struct itc_rx *rx);
void rx_sample(struct itc_fw *fw, unsigned prudir, uint8_t clk, uint8_t data);
void rx_lose_sync(struct itc_rx *rx);

#endif /* ITC_FW_INTERNAL_H */
