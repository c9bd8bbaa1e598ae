/*
 * link_tx.c - the transmitting half of a link: the outbound ring and the
 * bit stream on the wire.
 *
 * Each frame goes out as: delimiter, packet, FCS (low byte first), closing
 * delimiter; between frames and while idle, more delimiters. A frame always
 * has its own opening delimiter, so a receiver that lost sync on the frame
 * before (and so consumed that frame's closing delimiter while hunting)
 * still catches the next one.
 *
 * No step does per-frame work: a frame's bytes are read from the ring one
 * at a time as they start to go out, each folded into the running CRC
 * then (one table lookup), and the FCS is that register, complemented.
 */
#include <string.h>

#include "fw.h"

void tx_init(struct itc_tx *tx)
{
    memset(tx, 0, sizeof(*tx));
    tx->phase = TX_IDLE;
}

/* Room for the queue: ITC_FW_RING_BYTES less what is queued. The unsent
 * bytes of the packet in flight (left, in TX_DATA) are in the ring too, in
 * the ITC_FW_MAX_PACKET more it holds for them. */
uint16_t tx_room(const struct itc_tx *tx)
{
    uint16_t in_flight = tx->phase == TX_DATA ? tx->left : 0;

    return (uint16_t)(ITC_FW_RING_BYTES - (tx->count - in_flight));
}

/* The ring's size is not a power of two: wrap by comparison (the PRU has
 * no divider). */
static uint16_t ring_next(uint16_t at)
{
    return (uint16_t)(at + 1u == TX_RING_SIZE ? 0 : at + 1u);
}

static uint8_t ring_take(struct itc_tx *tx)
{
    uint8_t byte = tx->ring[tx->head];

    tx->head = ring_next(tx->head);
    tx->count--;
    return byte;
}

/* Copies the packet in at most two pieces (the ring may wrap): the one
 * per-packet copy the transmitter makes, when the host's message is
 * taken. */
int tx_enqueue(struct itc_tx *tx, const uint8_t *pkt, uint16_t len)
{
    uint16_t at = (uint16_t)(tx->head + tx->count);
    uint16_t first;

    if (len == 0 || len > ITC_FW_MAX_PACKET || tx_room(tx) < len + 1u)
        return -1;
    if (at >= TX_RING_SIZE)
        at = (uint16_t)(at - TX_RING_SIZE);
    tx->ring[at] = (uint8_t)len;
    at = ring_next(at);
    first = (uint16_t)(TX_RING_SIZE - at);
    if (first > len)
        first = len;
    memcpy(&tx->ring[at], pkt, first);
    memcpy(tx->ring, pkt + first, (size_t)(len - first));
    tx->count = (uint16_t)(tx->count + len + 1u);
    return 0;
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
            /* The length byte; the packet's bytes follow it out. */
            tx->left = ring_take(tx);
            tx->crc = ITC_FW_CRC_INIT;
            tx->phase = TX_DATA;
        }
        push_flag(tx);
        break;
    case TX_DATA: {
        uint8_t byte = ring_take(tx);

        tx->crc = crc16_byte(tx->crc, byte);
        tx->crc_bytes++;
        push_byte(tx, byte);
        if (--tx->left == 0) {
            tx->crc ^= ITC_FW_CRC_XOROUT;
            tx->left = ITC_FW_FCS_LEN;
            tx->phase = TX_FCS;
        }
        break;
    }
    case TX_FCS:
        push_byte(tx, (uint8_t)(tx->crc & 0xffu));
        tx->crc >>= 8;
        if (--tx->left == 0)
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
