/*
 * link_rx.c - the receiving half of a link: clock edges to bits, bits to
 * frames, frames to packets, dropped frames or a lost sync.
 *
 * Hunting (no sync), the receiver only looks for a delimiter: six 1s then
 * a 0. The first one gains sync ('P'). In sync, line bits are unstuffed
 * into the frame buffer; a delimiter ends the frame, which is delivered if
 * it is whole bytes and its FCS checks.
 *
 * As in HDLC (ISO/IEC 13239), a damaged frame costs that frame only: one
 * that fails the FCS or is not whole bytes at its closing delimiter, an
 * abort (seven 1s in a row) and a frame longer than ITC_FW_MAX_FRAME are
 * dropped, counted and reported ('E'), and sync is kept. After a
 * delimiter the next frame starts at once; after an abort or an over-long
 * frame the receiver skips line bits ("discarding") until the next
 * delimiter. Only a line that stops carrying delimiters loses sync: while
 * discarding, more than HUNT_LIMIT line bits without a delimiter is 'F'
 * (counted in no_delimiter), and the receiver hunts again. A bit error
 * flips bits but never removes the delimiters that follow, so it never
 * loses sync.
 *
 * Runts are quieter still: a delimiter or an abort that comes fewer line
 * bits after the last delimiter than the shortest frame has
 * (ITC_FW_MIN_FRAME bytes; stuffing only adds bits) cannot end a frame. It
 * is line noise, typically a bit error in the idle delimiters, and as in
 * HDLC it is dropped silently: counted in `runts`, nothing reported.
 * After a runt delimiter the next frame starts at once; after a runt
 * abort the receiver discards until the next delimiter, for at most
 * HUNT_LIMIT line bits after the last one.
 *
 * A delimiter is only recognised at its sixth 1, when its leading 0 and
 * five 1s have already been read as data. So the last data 0 and the 1s
 * after it are held back ("pending") and committed only once a later bit
 * shows they were data.
 *
 * No step does per-frame work: each byte is folded into the running CRC
 * as its last bit is committed (one table lookup; a step commits at most
 * six bits, so at most one byte), FCS included, and the closing delimiter
 * only compares the register with ITC_FW_CRC_RESIDUE.
 */
#include <string.h>

#include "fw.h"

/* A delimiter's leading 0 and the five 1s read as data before it. */
#define FLAG_PENDING 6
/* Line bits of a delimiter (0, six 1s, 0) and of an abort (seven 1s). */
#define FLAG_BITS 8
#define ABORT_BITS 7
/* The shortest frame on the line: ITC_FW_MIN_FRAME bytes, unstuffed. */
#define MIN_FRAME_BITS (ITC_FW_MIN_FRAME * 8)
/* Line bits by which a delimiter must have come when skipping noise (from
 * the last delimiter) or the rest of a dropped frame (from where it was
 * dropped): the longest frame and its closing delimiter. Skipping for
 * longer, the line is not carrying frames (it babbles, or sends 1s with
 * its clock running): sync is lost. */
#define HUNT_LIMIT (ITC_FW_MAX_FRAME_LINE_BITS + FLAG_BITS)
/* Where line_bits stops counting. */
#define LINE_BITS_MAX (HUNT_LIMIT + 1)

/* Whether a delimiter or abort of `end_bits` line bits, just completed,
 * came too soon after the last delimiter to end a frame. */
static int runt(const struct itc_rx *rx, uint16_t end_bits)
{
    return rx->line_bits < end_bits + MIN_FRAME_BITS;
}

static void start_frame(struct itc_rx *rx)
{
    rx->discarding = 0;
    rx->line_bits = 0;
    rx->nbits = 0;
    rx->pending = 0;
    rx->ones = 0;
    rx->crc = ITC_FW_CRC_INIT;
}

void rx_init(struct itc_rx *rx)
{
    memset(rx, 0, sizeof(*rx));
    start_frame(rx);
}

void rx_lose_sync(struct itc_rx *rx)
{
    rx->synced = 0;
    start_frame(rx);
}

static uint8_t dir8_of(const struct itc_fw *fw, unsigned prudir)
{
    return itc_fw_dir8(fw->pru, prudir);
}

/* A damaged frame: dropped, counted under its cause and reported ('E');
 * sync is kept. The caller says where the next frame starts. */
static void frame_dropped(struct itc_fw *fw, unsigned prudir, uint32_t *counter)
{
    (*counter)++;
    fw_send_status(fw, ITC_FW_STATUS_DROPPED, dir8_of(fw, prudir));
}

/* The frame was dropped before its end (an abort, or over-long): skip the
 * rest of it, up to the next delimiter, which opens the next frame. The
 * bound on skipping counts from here. `ones` stays as the line has it. */
static void skip_frame(struct itc_rx *rx)
{
    rx->discarding = 1;
    rx->line_bits = 0;
}

/* No delimiter where one must come ('F'): sync is lost until the next. */
static void lose_sync(struct itc_fw *fw, unsigned prudir)
{
    fw->stats.dir[prudir].no_delimiter++;
    rx_lose_sync(&fw->rx[prudir]);
    fw->stats.sync_bitmap &= (uint8_t)~(1u << dir8_of(fw, prudir));
    fw_send_status(fw, ITC_FW_STATUS_FRAME, dir8_of(fw, prudir));
}

/* A frame that outgrew ITC_FW_MAX_FRAME: dropped, the rest skipped. */
static void overlong(struct itc_fw *fw, unsigned prudir)
{
    frame_dropped(fw, prudir, &fw->stats.dir[prudir].overlong);
    skip_frame(&fw->rx[prudir]);
}

/* Appends one data bit; 0 if it did not fit (an over-long frame). */
static int commit_bit(struct itc_fw *fw, unsigned prudir, uint8_t bit)
{
    struct itc_rx *rx = &fw->rx[prudir];
    uint16_t byte = (uint16_t)(rx->nbits >> 3);
    uint8_t mask = (uint8_t)(1u << (rx->nbits & 7u));

    /* The frame before still waits in buf for the host: the outbox takes
     * it long before this (a delimiter is 8 bits), unless frames share a
     * delimiter or the outbox is backed up. Send it now. */
    if (rx->deliver_len != 0)
        fw_flush_delivery(fw, prudir);
    if (byte >= ITC_FW_MAX_FRAME)
        return 0;
    if (bit)
        rx->buf[byte] |= mask;
    else
        rx->buf[byte] &= (uint8_t)~mask;
    if ((++rx->nbits & 7u) == 0) {
        rx->crc = crc16_byte(rx->crc, rx->buf[byte]);
        rx->crc_bytes++;
    }
    return 1;
}

/* Commits the held-back bits: a 0 followed by pending - 1 ones. */
static int commit_pending(struct itc_fw *fw, unsigned prudir)
{
    struct itc_rx *rx = &fw->rx[prudir];
    uint8_t i;

    for (i = 0; i < rx->pending; i++) {
        if (!commit_bit(fw, prudir, i == 0 ? 0 : 1))
            return 0;
    }
    rx->pending = 0;
    return 1;
}

static void end_frame(struct itc_fw *fw, unsigned prudir)
{
    struct itc_rx *rx = &fw->rx[prudir];
    struct itc_fw_dir_stats *st = &fw->stats.dir[prudir];
    uint16_t bytes = (uint16_t)(rx->nbits >> 3);

    if (rx->nbits == 0 && rx->pending == FLAG_PENDING) {
        start_frame(rx); /* delimiters while idle */
        return;
    }
    /* Too short to be a frame: noise between frames. This delimiter
     * opens the next one. */
    if (runt(rx, FLAG_BITS)) {
        st->runts++;
        start_frame(rx);
        return;
    }
    /* Bits that are not whole bytes, or a delimiter whose leading 0 was
     * not a data bit (it followed five 1s), mean the frame and the
     * delimiter are out of step. */
    if ((rx->nbits & 7u) != 0 || rx->pending != FLAG_PENDING) {
        frame_dropped(fw, prudir, &st->misaligned);
        start_frame(rx);
        return;
    }
    /* Whole bytes past the runt check are never fewer than
     * ITC_FW_MIN_FRAME (16 data bits stuff to at most 19 line bits); kept
     * so that no frame without a packet byte can reach fw_deliver. */
    if (bytes < ITC_FW_MIN_FRAME) {
        st->runts++;
        start_frame(rx);
        return;
    }
    if (rx->crc != ITC_FW_CRC_RESIDUE) {
        frame_dropped(fw, prudir, &st->crc_errors);
        start_frame(rx);
        return;
    }
    fw_deliver(fw, prudir, (uint16_t)(bytes - ITC_FW_FCS_LEN));
    start_frame(rx);
}

static void hunt_bit(struct itc_fw *fw, unsigned prudir, uint8_t bit)
{
    struct itc_rx *rx = &fw->rx[prudir];

    if (bit) {
        if (rx->ones < 8)
            rx->ones++;
        return;
    }
    if (rx->ones == 6) {
        rx->synced = 1;
        fw->stats.dir[prudir].syncs++;
        fw->stats.sync_bitmap |= (uint8_t)(1u << dir8_of(fw, prudir));
        start_frame(rx);
        fw_send_status(fw, ITC_FW_STATUS_SYNC, dir8_of(fw, prudir));
        return;
    }
    rx->ones = 0;
}

/* In sync after a runt abort or a dropped frame: skips line bits until a
 * delimiter, which opens the next frame, or until no frame can be in
 * progress. */
static void discard_bit(struct itc_fw *fw, unsigned prudir, uint8_t bit)
{
    struct itc_rx *rx = &fw->rx[prudir];
    uint8_t ones;

    if (bit) {
        if (rx->ones < 8)
            rx->ones++;
    } else if (rx->ones == 6) {
        start_frame(rx);
        return;
    } else {
        rx->ones = 0;
    }
    if (rx->line_bits > HUNT_LIMIT) {
        ones = rx->ones;
        lose_sync(fw, prudir);
        rx->ones = ones; /* hunting goes on from here */
    }
}

static void sync_bit(struct itc_fw *fw, unsigned prudir, uint8_t bit)
{
    struct itc_rx *rx = &fw->rx[prudir];
    struct itc_fw_dir_stats *st = &fw->stats.dir[prudir];

    if (rx->line_bits < LINE_BITS_MAX)
        rx->line_bits++;
    if (rx->discarding) {
        discard_bit(fw, prudir, bit);
        return;
    }
    if (bit) {
        rx->ones++;
        if (rx->ones >= 7) {
            if (runt(rx, ABORT_BITS)) {
                /* Noise, not a frame: skip to the next delimiter. */
                st->runts++;
                rx->discarding = 1;
                return;
            }
            /* The frame is lost, the line is not: skip to the next
             * delimiter (ones stays at 7, so it needs a 0 first). */
            frame_dropped(fw, prudir, &st->aborts);
            skip_frame(rx);
            return;
        }
        if (rx->ones == 6)
            return; /* not data: a delimiter or an abort */
        if (rx->pending > 0) {
            rx->pending++;
        } else if (!commit_bit(fw, prudir, 1)) {
            overlong(fw, prudir);
        }
        return;
    }
    if (rx->ones == 6) {
        end_frame(fw, prudir);
        return;
    }
    if (rx->ones == ITC_FW_STUFF_AFTER) {
        /* A stuffed 0: the five 1s before it were data after all. */
        rx->ones = 0;
        if (!commit_pending(fw, prudir))
            overlong(fw, prudir);
        return;
    }
    rx->ones = 0;
    if (!commit_pending(fw, prudir)) {
        overlong(fw, prudir);
        return;
    }
    rx->pending = 1;
}

void rx_sample(struct itc_fw *fw, unsigned prudir, uint8_t clk, uint8_t data)
{
    struct itc_rx *rx = &fw->rx[prudir];
    uint8_t dir8 = dir8_of(fw, prudir);

    if (clk == rx->last_clk) {
        if (fw->timeout_steps == 0 || rx->timed_out)
            return;
        if (++rx->quiet >= fw->timeout_steps) {
            rx->timed_out = 1;
            fw->stats.dir[prudir].timeouts++;
            rx_lose_sync(rx);
            fw->stats.sync_bitmap &= (uint8_t)~(1u << dir8);
            fw_send_status(fw, ITC_FW_STATUS_TIMEOUT, dir8);
        }
        return;
    }
    rx->last_clk = clk;
    rx->quiet = 0;
    rx->timed_out = 0;
    if (rx->synced)
        sync_bit(fw, prudir, data);
    else
        hunt_bit(fw, prudir, data);
}
