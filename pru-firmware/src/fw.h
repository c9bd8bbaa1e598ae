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
    TX_DATA,  /* sending the frame's bytes, packet then FCS */
    TX_CLOSE, /* the closing delimiter goes next */
};

struct itc_tx {
    /* Outbound ring: packets as [len][bytes...], oldest at head. */
    uint8_t ring[ITC_FW_RING_BYTES];
    uint16_t head;
    uint16_t count;
    /* The frame being sent: packet and FCS. */
    uint8_t frame[ITC_FW_MAX_FRAME];
    uint16_t len;
    uint16_t pos;
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
    /* Consecutive 1s on the line (saturates above 7). */
    uint8_t ones;
    /* Data bits held back because they may turn out to be the start of a
     * delimiter: the last data 0 and the 1s after it (0..6 bits). */
    uint8_t pending;
    /* Unstuffed bits of the current frame committed to buf. */
    uint16_t nbits;
    uint8_t buf[ITC_FW_MAX_FRAME];
    /* A good packet was lost toward the host: mark the next with OVRN. */
    uint8_t lost;
};

/* A message taken from the host, waiting for room in its ring. `bytes` is
 * also where hal_recv puts each message, so it holds the longest rpmsg
 * message, not just the longest packet. */
struct itc_hold {
    uint8_t full;
    uint8_t prudir;
    uint16_t len;
    uint32_t waited;
    uint8_t bytes[ITC_FW_MAX_RPMSG_MSG];
};

struct itc_fw {
    uint8_t pru;
    uint8_t started;
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
    struct itc_fw_stats stats;
    struct itc_hal hal;
};

/* fw.c */
void fw_init(struct itc_fw *fw, unsigned pru, const struct itc_fw_config *cfg);
void fw_step(struct itc_fw *fw);
void fw_send_status(struct itc_fw *fw, uint8_t code, uint8_t arg);
void fw_deliver(struct itc_fw *fw, unsigned prudir, uint16_t len);
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
