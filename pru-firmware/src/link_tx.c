/*
 * link_tx.c - the transmitting half of a link: the outbound ring and the
 * bit stream on the wire.
 *
 * Each frame goes out as: delimiter, packet, FCS (low byte first), closing
 * delimiter; between frames and while idle, more delimiters. A frame always
 * has its own opening delimiter, so a receiver that lost sync on the frame
 * before (and so consumed that frame's closing delimiter while hunting)
 * still catches the next one.
 */
#include <string.h>

#include "fw.h"

void tx_init(struct itc_tx *tx)
{
    memset(tx, 0, sizeof(*tx));
    tx->phase = TX_IDLE;
}

uint16_t tx_room(const struct itc_tx *tx)
{
    return (uint16_t)(ITC_FW_RING_BYTES - tx->count);
}

static void ring_put(struct itc_tx *tx, uint8_t byte)
{
    uint16_t at = (uint16_t)((tx->head + tx->count) % ITC_FW_RING_BYTES);

    tx->ring[at] = byte;
    tx->count++;
}

static uint8_t ring_take(struct itc_tx *tx)
{
    uint8_t byte = tx->ring[tx->head];

    tx->head = (uint16_t)((tx->head + 1) % ITC_FW_RING_BYTES);
    tx->count--;
    return byte;
}

int tx_enqueue(struct itc_tx *tx, const uint8_t *pkt, uint16_t len)
{
    uint16_t i;

    if (len == 0 || len > ITC_FW_MAX_PACKET || tx_room(tx) < len + 1u)
        return -1;
    ring_put(tx, (uint8_t)len);
    for (i = 0; i < len; i++)
        ring_put(tx, pkt[i]);
    return 0;
}

/* Moves the oldest packet into the frame buffer and appends its FCS. */
static void load_frame(struct itc_tx *tx)
{
    uint16_t len = ring_take(tx);
    uint16_t fcs;
    uint16_t i;

    for (i = 0; i < len; i++)
        tx->frame[i] = ring_take(tx);
    fcs = itc_fw_crc16(tx->frame, len);
    tx->frame[len] = (uint8_t)(fcs & 0xffu);
    tx->frame[len + 1] = (uint8_t)(fcs >> 8);
    tx->len = (uint16_t)(len + ITC_FW_FCS_LEN);
    tx->pos = 0;
}

static void push_bit(struct itc_tx *tx, uint8_t bit)
{
    tx->raw |= (uint16_t)(bit << tx->nraw);
    tx->nraw++;
}

/* A delimiter is never stuffed; data after it counts 1s afresh. */
static void push_flag(struct itc_tx *tx)
{
    tx->raw |= (uint16_t)(ITC_FW_FLAG << tx->nraw);
    tx->nraw += 8;
    tx->ones = 0;
}

/* One data byte, LSB first, with a 0 after every fifth 1 in a row. At most
 * 8 + 2 line bits, which the 16-bit queue holds since it is refilled only
 * when empty. */
static void push_byte(struct itc_tx *tx, uint8_t byte)
{
    int i;

    for (i = 0; i < 8; i++) {
        uint8_t bit = (uint8_t)((byte >> i) & 1u);

        push_bit(tx, bit);
        if (!bit) {
            tx->ones = 0;
        } else if (++tx->ones == ITC_FW_STUFF_AFTER) {
            push_bit(tx, 0);
            tx->ones = 0;
        }
    }
}

static void refill(struct itc_tx *tx)
{
    tx->closing = 0;
    switch (tx->phase) {
    case TX_IDLE:
        if (tx->count > 0) {
            load_frame(tx);
            tx->phase = TX_DATA;
        }
        push_flag(tx);
        break;
    case TX_DATA:
        push_byte(tx, tx->frame[tx->pos++]);
        if (tx->pos == tx->len)
            tx->phase = TX_CLOSE;
        break;
    default:
        push_flag(tx);
        tx->closing = 1;
        tx->phase = TX_IDLE;
        break;
    }
}

uint8_t tx_next_bit(struct itc_tx *tx)
{
    uint8_t bit;

    if (tx->nraw == 0)
        refill(tx);
    bit = (uint8_t)(tx->raw & 1u);
    tx->raw >>= 1;
    tx->nraw--;
    return bit;
}

int tx_idle(const struct itc_tx *tx)
{
    return tx->phase == TX_IDLE && !tx->closing && tx->count == 0;
}
