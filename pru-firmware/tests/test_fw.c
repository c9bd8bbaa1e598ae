/*
 * test_fw.c - unit tests of the firmware's host build: CRC, framing and
 * stuffing, sync, every kind of damaged frame (dropped, sync kept), line
 * noise between frames (runts), a line without delimiters (sync lost),
 * timeouts, host-side overflow (OVRN) and bounces. Bit streams for the receiver are built here by a small
 * encoder of the test's own, so a bug shared by the firmware's transmitter
 * and receiver cannot hide.
 *
 * The per-step bound on frame-check work (test_crc_work_per_step) reads the
 * links' CRC byte counters from the instance's internals (fw.h).
 *
 * Prints one line per failed check and "N passed, N failed" at the end;
 * exits non-zero if anything failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "check.h"
#include "fw.h"
#include "itc_fw.h"

/* --- A reference encoder: line bits for the receiver under test ---------- */

#define MAX_BITS 8192

struct bits {
    uint8_t b[MAX_BITS];
    int n;
    int ones;
};

static void put_raw(struct bits *s, int bit)
{
    if (s->n < MAX_BITS)
        s->b[s->n++] = (uint8_t)bit;
}

static void put_flag(struct bits *s)
{
    int i;

    for (i = 0; i < 8; i++)
        put_raw(s, (ITC_FW_FLAG >> i) & 1);
    s->ones = 0;
}

static void put_byte(struct bits *s, uint8_t byte)
{
    int i;

    for (i = 0; i < 8; i++) {
        int bit = (byte >> i) & 1;

        put_raw(s, bit);
        s->ones = bit ? s->ones + 1 : 0;
        if (s->ones == 5) {
            put_raw(s, 0);
            s->ones = 0;
        }
    }
}

/* Flag, bytes, FCS (optionally wrong), flag. */
static void put_frame(struct bits *s, const uint8_t *p, int len, int bad_fcs)
{
    uint16_t fcs = itc_fw_crc16(p, (size_t)len);
    int i;

    if (bad_fcs)
        fcs ^= 0x0100;
    put_flag(s);
    for (i = 0; i < len; i++)
        put_byte(s, p[i]);
    put_byte(s, (uint8_t)(fcs & 0xff));
    put_byte(s, (uint8_t)(fcs >> 8));
    put_flag(s);
}

/* --- Driving one instance ----------------------------------------------- */

struct drive {
    struct itc_fw *fw;
    unsigned clk; /* per prudir */
};

static struct itc_fw_config test_config(void)
{
    struct itc_fw_config cfg;

    itc_fw_config_default(&cfg);
    /* Long enough that the directions a test leaves still do not report
     * timeouts in between; test_timeout shortens it. */
    cfg.timeout_bits = 100000;
    cfg.monitor_bits = 0;
    return cfg;
}

/* One bit on prudir `d`'s input (clock toggles), others keep still. */
static void feed(struct drive *dv, unsigned d, int bit)
{
    uint32_t in = 0;

    dv->clk ^= 1u << d;
    if (dv->clk & (1u << d))
        in |= ITC_FW_PIN_IN_CLK(d);
    if (bit)
        in |= ITC_FW_PIN_IN_DATA(d);
    itc_fw_set_inputs(dv->fw, in);
    itc_fw_step(dv->fw);
}

/* The facing end's input register, given one end's outputs: the same
 * prudir's clock and data moved from the output bits to the input bits. */
static uint32_t wired(uint32_t r30)
{
    return ((r30 & ITC_FW_PIN_OUT_MASK) >> ITC_FW_PIN_OUT_BASE) << ITC_FW_PIN_IN_BASE;
}

static void feed_bits(struct drive *dv, unsigned d, const struct bits *s)
{
    int i;

    for (i = 0; i < s->n; i++)
        feed(dv, d, s->b[i]);
}

static void feed_flags(struct drive *dv, unsigned d, int n)
{
    struct bits s = {{0}, 0, 0};
    int i;

    for (i = 0; i < n; i++)
        put_flag(&s);
    feed_bits(dv, d, &s);
}

static void start_host(struct itc_fw *fw)
{
    CHECK(itc_fw_push_host(fw, NULL, 0) == 0);
}

/* Pops every message; returns how many, the last one in `last`. */
static int drain(struct itc_fw *fw, uint8_t *last, int *last_len)
{
    uint8_t buf[ITC_FW_MAX_HOST_MSG];
    int n = 0;
    int len;

    while ((len = itc_fw_pop_host(fw, buf, sizeof(buf))) >= 0) {
        n++;
        if (last) {
            memcpy(last, buf, (size_t)len);
            *last_len = len;
        }
    }
    return n;
}

/* Finds a status message CODE ARG among the pending messages (all are
 * consumed); packets go to `pkts` if given. */
struct seen {
    int status[256][256];
    int npkts;
    uint8_t pkt[64][ITC_FW_MAX_HOST_MSG];
    int pkt_len[64];
};

static void collect(struct itc_fw *fw, struct seen *sn)
{
    uint8_t buf[ITC_FW_MAX_HOST_MSG];
    int len;

    while ((len = itc_fw_pop_host(fw, buf, sizeof(buf))) >= 0) {
        if (len == ITC_FW_STATUS_LEN && buf[0] == ITC_FW_MSG_LINK_STATUS) {
            sn->status[buf[1]][buf[2]]++;
        } else if (sn->npkts < 64) {
            memcpy(sn->pkt[sn->npkts], buf, (size_t)len);
            sn->pkt_len[sn->npkts++] = len;
        }
    }
}

static struct drive new_drive(unsigned pru)
{
    struct itc_fw_config cfg = test_config();
    struct drive dv;

    dv.fw = itc_fw_new(pru, &cfg);
    dv.clk = 0;
    return dv;
}

/* --- Tests ----------------------------------------------------------------- */

static void test_crc(void)
{
    const uint8_t check[] = "123456789";
    uint8_t framed[11];
    uint16_t fcs, residue;

    CHECK(itc_fw_crc16(check, 9) == ITC_FW_CRC_CHECK);
    CHECK(itc_fw_crc16(check, 0) == 0x0000);
    /* Appended low byte first, the CRC over data + FCS (without the final
     * xor) is the constant residue 0xf0b8. */
    memcpy(framed, check, 9);
    fcs = itc_fw_crc16(check, 9);
    framed[9] = (uint8_t)(fcs & 0xff);
    framed[10] = (uint8_t)(fcs >> 8);
    residue = (uint16_t)(itc_fw_crc16(framed, 11) ^ ITC_FW_CRC_XOROUT);
    CHECK(residue == 0xf0b8u);
    CHECK(residue == ITC_FW_CRC_RESIDUE);
}

/* One byte folded bit by bit, as crc16.c did before its table. */
static uint16_t crc_byte_bitwise(uint16_t crc, uint8_t byte)
{
    int bit;

    crc ^= byte;
    for (bit = 0; bit < 8; bit++)
        crc = (uint16_t)((crc & 1u) ? (crc >> 1) ^ ITC_FW_CRC_POLY : crc >> 1);
    return crc;
}

/* The table-driven byte update against 8 shift rounds, for every byte
 * and a spread of registers. */
static void test_crc_table(void)
{
    unsigned i, reg, bad = 0;

    for (i = 0; i < 256; i++) {
        bad += crc16_table[i] != crc_byte_bitwise((uint16_t)i, 0);
        for (reg = 0; reg < 0x10000u; reg += 0x0101u)
            bad += crc16_byte((uint16_t)reg, (uint8_t)i) !=
                   crc_byte_bitwise((uint16_t)reg, (uint8_t)i);
    }
    CHECK(bad == 0);
}

static void test_dir8_table(void)
{
    CHECK(itc_fw_dir8(0, 0) == 2 && itc_fw_dir8(0, 1) == 3 && itc_fw_dir8(0, 2) == 5);
    CHECK(itc_fw_dir8(1, 0) == 6 && itc_fw_dir8(1, 1) == 7 && itc_fw_dir8(1, 2) == 1);
    CHECK(itc_fw_dir8(2, 0) == 0xff && itc_fw_dir8(0, 3) == 0xff);
}

/* The transmitter's line bits: delimiters while idle, at most five data 1s
 * in a row, and the reference decoding gives packet + FCS back. */
static void test_tx_stuffing(void)
{
    struct itc_fw_config cfg = test_config();
    struct itc_fw *fw = itc_fw_new(0, &cfg);
    uint8_t pkt[40];
    uint8_t line[4096];
    int n = 0, i, clk = 0, run = 0, max_run = 0;

    memset(pkt, 0xff, sizeof(pkt)); /* worst case for stuffing */
    pkt[0] = 0x80 | 2;
    start_host(fw);
    /* Sync on ET first, or the packet bounces "no sync". */
    {
        struct drive dv = {fw, 0};
        feed_flags(&dv, 0, 3);
    }
    drain(fw, NULL, NULL);
    CHECK(itc_fw_push_host(fw, pkt, sizeof(pkt)) == 0);
    for (i = 0; i < 1200 && n < (int)sizeof(line); i++) {
        uint32_t out;

        itc_fw_step(fw);
        out = itc_fw_outputs(fw);
        /* One clock edge per step, and the data beside it. */
        CHECK(((out & ITC_FW_PIN_OUT_CLK(0)) != 0) != clk);
        clk = (out & ITC_FW_PIN_OUT_CLK(0)) != 0;
        line[n++] = (out & ITC_FW_PIN_OUT_DATA(0)) ? 1 : 0;
    }
    /* Find the frame: after the first delimiter that is followed by data. */
    {
        uint8_t bytes[64];
        int nbits = 0, ones = 0, in_frame = 0, got = -1;
        int start = -1;

        for (i = 0; i < n; i++) {
            run = line[i] ? run + 1 : 0;
            if (run > max_run)
                max_run = run;
        }
        CHECK(max_run == 6); /* only delimiters have six */
        memset(bytes, 0, sizeof(bytes));
        for (i = 0; i + 8 <= n; i++) {
            int j, is_flag = 1;

            for (j = 0; j < 8; j++)
                is_flag &= line[i + j] == ((ITC_FW_FLAG >> j) & 1);
            if (is_flag) {
                if (i + 16 <= n) {
                    int next_flag = 1;
                    for (j = 0; j < 8; j++)
                        next_flag &= line[i + 8 + j] == ((ITC_FW_FLAG >> j) & 1);
                    if (!next_flag) {
                        start = i + 8;
                        break;
                    }
                }
            }
        }
        CHECK(start > 0);
        for (i = start; start > 0 && i < n; i++) {
            if (line[i]) {
                ones++;
                if (ones == 6) { /* closing delimiter */
                    nbits -= 5;  /* its leading 0 and five 1s were taken */
                    nbits -= 1;
                    got = nbits;
                    break;
                }
                bytes[nbits >> 3] |= (uint8_t)(1u << (nbits & 7));
                nbits++;
            } else {
                if (ones == 5) {
                    ones = 0;
                    continue; /* stuffed */
                }
                ones = 0;
                nbits++;
            }
            in_frame = 1;
        }
        CHECK(in_frame);
        CHECK(got == (int)(sizeof(pkt) + 2) * 8);
        CHECK(memcmp(bytes, pkt, sizeof(pkt)) == 0);
        CHECK(itc_fw_crc16(bytes, sizeof(pkt)) ==
              (uint16_t)(bytes[sizeof(pkt)] | (bytes[sizeof(pkt) + 1] << 8)));
    }
    itc_fw_free(fw);
}

/* Sync is gained at the first delimiter and reported once the host has
 * started; the start message reports where things stand. */
static void test_sync_and_start(void)
{
    struct drive dv = new_drive(1);
    struct seen *sn = calloc(1, sizeof(*sn));

    feed_flags(&dv, 0, 2);
    CHECK(itc_fw_host_pending(dv.fw) == 0); /* not started: silent */
    start_host(dv.fw);
    feed_flags(&dv, 0, 1);
    collect(dv.fw, sn);
    CHECK(sn->status[ITC_FW_STATUS_SYNC][6] == 1);                /* WT */
    CHECK(sn->status[ITC_FW_STATUS_MONITOR][1u << 6] == 1);       /* bitmap */
    CHECK(sn->status[ITC_FW_STATUS_SYNC][7] == 0);
    itc_fw_free(dv.fw);
    free(sn);
}

static void test_good_packet_and_dir_rewrite(void)
{
    struct drive dv = new_drive(0);
    struct bits s = {{0}, 0, 0};
    uint8_t pkt[] = {0x80 | 0x20 | 0x10 | 0x08 | 6, 1, 2, 0x7e, 0xff, 0x1f};
    uint8_t got[ITC_FW_MAX_HOST_MSG];
    int len = -1;

    start_host(dv.fw);
    feed_flags(&dv, 1, 2); /* SE */
    drain(dv.fw, NULL, NULL);
    put_frame(&s, pkt, sizeof(pkt), 0);
    feed_bits(&dv, 1, &s);
    CHECK(drain(dv.fw, got, &len) == 1);
    CHECK(len == (int)sizeof(pkt));
    /* Routed, MFMT kept, OVRN and EROR cleared, DIR = SE (3). */
    CHECK(got[0] == (0x80 | 0x20 | 3));
    CHECK(memcmp(got + 1, pkt + 1, sizeof(pkt) - 1) == 0);
    itc_fw_free(dv.fw);
}

/* Feeds a damaged frame after sync; checks it is not delivered, that 'E'
 * is reported once and counted under its cause, that sync is kept (no 'F',
 * no second 'P') and a good frame after it gets through. */
static void check_frame_dropped(const char *what, struct bits *bad, size_t counter_offset)
{
    struct drive dv = new_drive(0);
    struct seen *sn = calloc(1, sizeof(*sn));
    struct bits good = {{0}, 0, 0};
    uint8_t pkt[] = {0x80 | 2, 0x14, 'o', 'k'};
    struct itc_fw_stats st;
    uint32_t count;

    start_host(dv.fw);
    feed_flags(&dv, 2, 2); /* SW */
    feed_bits(&dv, 2, bad);
    feed_flags(&dv, 2, 2);
    put_frame(&good, pkt, sizeof(pkt), 0);
    feed_bits(&dv, 2, &good);
    collect(dv.fw, sn);
    itc_fw_get_stats(dv.fw, &st);
    memcpy(&count, (const uint8_t *)&st.dir[2] + counter_offset, sizeof(count));
    if (count != 1)
        printf("  (%s: counter %u)\n", what, count);
    CHECK(count == 1);
    CHECK(sn->status[ITC_FW_STATUS_DROPPED][5] == 1);
    CHECK(sn->status[ITC_FW_STATUS_FRAME][5] == 0);
    CHECK(sn->status[ITC_FW_STATUS_SYNC][5] == 1); /* never lost */
    CHECK((st.sync_bitmap & (1u << 5)) != 0 && st.dir[2].no_delimiter == 0);
    CHECK(sn->npkts == 1);                          /* only the good one */
    CHECK(sn->npkts == 1 && sn->pkt[0][0] == (0x80 | 5) && sn->pkt_len[0] == 4);
    itc_fw_free(dv.fw);
    free(sn);
}

static void test_damaged_frames(void)
{
    uint8_t pkt[20];
    struct bits s;
    int i;

    for (i = 0; i < 20; i++)
        pkt[i] = (uint8_t)(i * 37);
    pkt[0] = 0x80 | 2;

    memset(&s, 0, sizeof(s));
    put_frame(&s, pkt, sizeof(pkt), 1);
    check_frame_dropped("bad crc", &s, offsetof(struct itc_fw_dir_stats, crc_errors));

    /* Abort: seven 1s in the middle of a frame (past the shortest frame's
     * length, or it would be a runt). */
    memset(&s, 0, sizeof(s));
    put_flag(&s);
    for (i = 0; i < ITC_FW_MIN_FRAME; i++)
        put_byte(&s, pkt[i]);
    for (i = 0; i < 7; i++)
        put_raw(&s, 1);
    put_raw(&s, 0);
    check_frame_dropped("abort", &s, offsetof(struct itc_fw_dir_stats, aborts));

    /* Misaligned: one extra data bit before the closing delimiter. */
    memset(&s, 0, sizeof(s));
    put_frame(&s, pkt, sizeof(pkt), 0);
    s.n -= 8;
    put_raw(&s, 0);
    put_flag(&s);
    check_frame_dropped("misaligned", &s, offsetof(struct itc_fw_dir_stats, misaligned));

    /* Over-long: 300 bytes between delimiters (the rest is skipped up to
     * the closing delimiter). */
    {
        static uint8_t big[300];
        memset(big, 0x55, sizeof(big));
        big[0] = 0x80 | 2;
        memset(&s, 0, sizeof(s));
        put_frame(&s, big, sizeof(big), 0);
        check_frame_dropped("overlong", &s, offsetof(struct itc_fw_dir_stats, overlong));
    }
}

/* --- Line noise between frames (runts) -------------------------------------- */

/* What one direction (SW of PRU0) made of a stream fed after two
 * delimiters of sync, then two more. */
struct outcome {
    struct itc_fw_stats st;
    int frame_reports;   /* 'F' */
    int dropped_reports; /* 'E' */
    int sync_reports;    /* 'P' */
    int npkts;
    uint8_t pkt[4][ITC_FW_MAX_HOST_MSG];
    int pkt_len[4];
};

/* Damaged frames dropped (each reported 'E'). */
static uint32_t dropped(const struct itc_fw_dir_stats *d)
{
    return d->crc_errors + d->aborts + d->misaligned + d->overlong;
}

static void run_stream(const struct bits *s, struct outcome *o)
{
    struct drive dv = new_drive(0);
    uint8_t buf[ITC_FW_MAX_HOST_MSG];
    int len;

    memset(o, 0, sizeof(*o));
    start_host(dv.fw);
    feed_flags(&dv, 2, 2);
    feed_bits(&dv, 2, s);
    feed_flags(&dv, 2, 2);
    while ((len = itc_fw_pop_host(dv.fw, buf, sizeof(buf))) >= 0) {
        if (len == ITC_FW_STATUS_LEN && buf[0] == ITC_FW_MSG_LINK_STATUS) {
            o->frame_reports += buf[1] == ITC_FW_STATUS_FRAME;
            o->dropped_reports += buf[1] == ITC_FW_STATUS_DROPPED;
            o->sync_reports += buf[1] == ITC_FW_STATUS_SYNC;
        } else if (o->npkts < 4) {
            memcpy(o->pkt[o->npkts], buf, (size_t)len);
            o->pkt_len[o->npkts++] = len;
        }
    }
    itc_fw_get_stats(dv.fw, &o->st);
    CHECK(!dv.fw->rx[2].discarding); /* back between frames */
    itc_fw_free(dv.fw);
}

/* Whether packet `p` (as sent, any DIR) arrived as o's `i`th, from SW. */
static int arrived(const struct outcome *o, int i, const uint8_t *p, int len)
{
    return i < o->npkts && o->pkt_len[i] == len && o->pkt[i][0] == (0x80 | 5) &&
           memcmp(o->pkt[i] + 1, p + 1, (size_t)len - 1) == 0;
}

/* A single bit error at every bit of the idle delimiters between two
 * frames: never a dropped frame or a lost sync, one runt each, and both
 * frames cross intact. */
static void test_idle_noise_is_runts(void)
{
    static const uint8_t a[] = {0x80 | 5, 0x14, 'b', 'e', 'f', 'o', 'r', 'e'};
    static const uint8_t b[] = {0x80 | 5, 0x14, 'a', 'f', 't', 'e', 'r'};
    static struct bits s;
    static struct outcome o;
    int flip, at, i, bad = 0, idle = 3;

    for (flip = 0; flip < idle * 8; flip++) {
        memset(&s, 0, sizeof(s));
        put_frame(&s, a, sizeof(a), 0);
        at = s.n + flip;
        for (i = 0; i < idle; i++)
            put_flag(&s);
        put_frame(&s, b, sizeof(b), 0);
        s.b[at] ^= 1;
        run_stream(&s, &o);
        if (o.frame_reports != 0 || o.dropped_reports != 0 || o.st.dir[2].runts != 1 ||
            o.npkts != 2) {
            printf("  (idle flip at bit %d: %d F, %d E, %u runts, %d packets)\n", flip,
                   o.frame_reports, o.dropped_reports, o.st.dir[2].runts, o.npkts);
            bad++;
        }
        CHECK(o.frame_reports == 0 && o.dropped_reports == 0 && dropped(&o.st.dir[2]) == 0);
        CHECK(o.sync_reports == 1 && o.st.dir[2].syncs == 1);
        CHECK(o.st.dir[2].runts == 1);
        CHECK(o.npkts == 2 && arrived(&o, 0, a, sizeof(a)) && arrived(&o, 1, b, sizeof(b)));
    }
    CHECK(bad == 0);
}

/* A single bit error anywhere in a data frame (its delimiters included):
 * the frame is never delivered, the frame after it crosses intact, and
 * sync is never lost (no 'F', no second 'P'). A flip that makes a
 * delimiter or an abort within the frame's first ITC_FW_MIN_FRAME * 8
 * line bits looks like noise between frames: the frame is dropped as a
 * runt (and after a runt delimiter the rest of it is dropped on its own,
 * or is another runt). The pattern a flip makes starts at most a
 * delimiter's length before the flipped bit, so from there on every flip
 * drops the frame with 'E', once per piece it is cut into, each counted. */
static void test_data_noise_drops_the_frame(void)
{
    static struct bits frame, s;
    static struct outcome o;
    uint8_t pkt[20], next[] = {0x80 | 5, 0x14, 'n', 'e', 'x', 't'};
    int i, flip, body, as_runts = 0, split = 0;

    for (i = 0; i < (int)sizeof(pkt); i++)
        pkt[i] = (uint8_t)(i * 53 + 0x1f);
    pkt[0] = 0x80 | 5;
    memset(&frame, 0, sizeof(frame));
    put_frame(&frame, pkt, sizeof(pkt), 0);
    body = frame.n - 16; /* line bits between the delimiters */
    for (flip = 0; flip < frame.n; flip++) {
        memset(&s, 0, sizeof(s));
        for (i = 0; i < frame.n; i++)
            put_raw(&s, frame.b[i] ^ (i == flip));
        put_flag(&s);
        put_frame(&s, next, sizeof(next), 0);
        run_stream(&s, &o);
        /* Never the damaged frame; always the next one; sync kept. */
        CHECK(o.npkts == 1 && arrived(&o, 0, next, sizeof(next)));
        CHECK(o.frame_reports == 0 && o.sync_reports == 1);
        CHECK(o.st.dir[2].no_delimiter == 0 && (o.st.sync_bitmap & (1u << 5)) != 0);
        CHECK(o.dropped_reports == (int)dropped(&o.st.dir[2]));
        if (flip >= 8 + ITC_FW_MIN_FRAME * 8 + 7) {
            if (o.dropped_reports < 1 || o.dropped_reports > 2)
                printf("  (data flip at bit %d of %d: %d E, %u runts)\n", flip, frame.n,
                       o.dropped_reports, o.st.dir[2].runts);
            CHECK(o.dropped_reports >= 1 && o.dropped_reports <= 2);
            split += o.dropped_reports == 2;
        } else {
            CHECK(o.dropped_reports >= 1 || o.st.dir[2].runts >= 1);
            as_runts += o.dropped_reports == 0;
        }
    }
    printf("  (data frame of %d line bits: %d of its flips dropped as runts alone, %d cut "
           "it in two dropped frames)\n",
           body, as_runts, split);
}

/* A line that stops carrying delimiters after noise: continuous 1s after
 * a delimiter (a far end sending 1s with its clock running), or 1s then a
 * pattern without six 1s. Each is a runt abort, and the receiver skips
 * the line looking for a delimiter; once more line bits have passed than
 * the longest frame and its closing delimiter, it reports 'F' (counted in
 * no_delimiter) and loses sync, not before. The line's next delimiter
 * gains sync again. */
static void test_hunt_bound(void)
{
    /* The longest frame, all 1s stuffed, and its closing delimiter. */
    const int bound = ITC_FW_MAX_FRAME_LINE_BITS + 8;
    int pattern, i, f_at;

    CHECK(bound == 257 * 8 + 257 * 8 / 5 + 8);
    for (pattern = 0; pattern < 2; pattern++) {
        struct drive dv = new_drive(0);
        struct seen *sn = calloc(1, sizeof(*sn));
        struct itc_fw_stats st;

        start_host(dv.fw);
        feed_flags(&dv, 2, 2);
        collect(dv.fw, sn);
        CHECK(sn->status[ITC_FW_STATUS_SYNC][5] == 1);
        f_at = -1;
        for (i = 1; i <= bound + 500 && f_at < 0; i++) {
            /* 1s; or seven 1s, then 1 1 1 0 over and over. */
            feed(&dv, 2, pattern == 0 || i <= 7 || i % 4 != 0);
            collect(dv.fw, sn);
            if (sn->status[ITC_FW_STATUS_FRAME][5] != 0)
                f_at = i;
        }
        if (f_at != bound + 1)
            printf("  (hunt bound, pattern %d: F at line bit %d, bound %d)\n", pattern, f_at,
                   bound);
        CHECK(f_at == bound + 1);
        itc_fw_get_stats(dv.fw, &st);
        CHECK(st.dir[2].runts == 1 && st.dir[2].no_delimiter == 1);
        CHECK(dropped(&st.dir[2]) == 0 && (st.sync_bitmap & (1u << 5)) == 0);
        /* More of the same: hunting, no sync, nothing more reported. */
        for (i = 0; i < 3 * bound; i++)
            feed(&dv, 2, pattern == 0 || i % 4 != 0);
        feed_flags(&dv, 2, 1);
        collect(dv.fw, sn);
        CHECK(sn->status[ITC_FW_STATUS_FRAME][5] == 1);
        CHECK(sn->status[ITC_FW_STATUS_SYNC][5] == 2);
        itc_fw_free(dv.fw);
        free(sn);
    }
}

/* The same bound after a dropped frame, counted from where it was
 * dropped: a frame's worth of data then 1s (an abort, 'E'), or data
 * without a delimiter past the longest frame (over-long, 'E'). Sync is
 * kept while a delimiter may still come, and the first line bit past the
 * bound is 'F'. A delimiter ending on the bound opens the next frame,
 * which is delivered. */
static void test_hunt_bound_after_a_dropped_frame(void)
{
    const int bound = ITC_FW_MAX_FRAME_LINE_BITS + 8;
    static const uint8_t next[] = {0x80 | 5, 0x14, 'n', 'e', 'x', 't'};
    int kind, at, f_at, e_at;

    for (kind = 0; kind < 4; kind++) {
        struct drive dv = new_drive(0);
        struct seen *sn = calloc(1, sizeof(*sn));
        struct itc_fw_stats st;
        int abort = kind % 2 == 0, resync = kind >= 2;

        start_host(dv.fw);
        feed_flags(&dv, 2, 2);
        collect(dv.fw, sn);
        e_at = -1;
        f_at = -1;
        for (at = 1; at <= 6000 && f_at < 0; at++) {
            if (resync && e_at > 0 && at == e_at + bound - 7) {
                feed_flags(&dv, 2, 1);
                break;
            }
            /* 1 0 1 0 ...: data without five 1s, so never a delimiter;
             * for an abort, seven 1s after 40 line bits. */
            feed(&dv, 2, abort && at > 40 ? 1 : at % 2);
            collect(dv.fw, sn);
            if (e_at < 0 && sn->status[ITC_FW_STATUS_DROPPED][5] != 0)
                e_at = at;
            if (sn->status[ITC_FW_STATUS_FRAME][5] != 0)
                f_at = at;
        }
        itc_fw_get_stats(dv.fw, &st);
        /* The abort at its seventh 1; over-long when the data bit after
         * ITC_FW_MAX_FRAME bytes is committed, a line bit after it comes
         * (a 0 and the 1s after it are held back). */
        CHECK(e_at == (abort ? 40 + 7 : ITC_FW_MAX_FRAME * 8 + 2));
        CHECK(sn->status[ITC_FW_STATUS_DROPPED][5] == 1);
        CHECK(abort ? st.dir[2].aborts == 1 : st.dir[2].overlong == 1);
        if (resync) {
            struct bits s = {{0}, 0, 0};

            put_frame(&s, next, sizeof(next), 0);
            feed_bits(&dv, 2, &s);
            collect(dv.fw, sn);
            itc_fw_get_stats(dv.fw, &st);
            CHECK(f_at < 0 && st.dir[2].no_delimiter == 0);
            CHECK(sn->status[ITC_FW_STATUS_SYNC][5] == 1);
            CHECK(sn->npkts == 1 && sn->pkt_len[0] == (int)sizeof(next));
        } else {
            if (f_at != e_at + bound + 1)
                printf("  (hunt bound after %s: F at line bit %d, dropped at %d, bound %d)\n",
                       abort ? "an abort" : "an over-long frame", f_at, e_at, bound);
            CHECK(f_at == e_at + bound + 1);
            CHECK(st.dir[2].no_delimiter == 1 && (st.sync_bitmap & (1u << 5)) == 0);
        }
        itc_fw_free(dv.fw);
        free(sn);
    }
}

/* The boundary: 23 line bits between delimiters are a runt, 24 (one
 * packet byte and the FCS) a frame; the same for an abort. */
static void test_runt_boundary(void)
{
    static struct bits s;
    static struct outcome o;
    uint8_t one[] = {0x80 | 5};
    int i;

    /* 23 bits, no five 1s in a row: a runt. */
    memset(&s, 0, sizeof(s));
    put_flag(&s);
    for (i = 0; i < ITC_FW_MIN_FRAME * 8 - 1; i++)
        put_raw(&s, i & 1);
    put_flag(&s);
    run_stream(&s, &o);
    CHECK(o.frame_reports == 0 && o.st.dir[2].runts == 1 && dropped(&o.st.dir[2]) == 0);
    CHECK(o.dropped_reports == 0 && o.sync_reports == 1 && o.npkts == 0);

    /* 24 bits: a one-byte packet whose FCS is wrong is a dropped frame... */
    memset(&s, 0, sizeof(s));
    put_frame(&s, one, sizeof(one), 1);
    run_stream(&s, &o);
    CHECK(o.dropped_reports == 1 && o.st.dir[2].crc_errors == 1 && o.st.dir[2].runts == 0);
    CHECK(o.frame_reports == 0 && o.sync_reports == 1 && o.npkts == 0);
    /* ...and with its FCS right, delivered. */
    memset(&s, 0, sizeof(s));
    put_frame(&s, one, sizeof(one), 0);
    run_stream(&s, &o);
    CHECK(o.frame_reports == 0 && o.st.dir[2].runts == 0);
    CHECK(o.npkts == 1 && arrived(&o, 0, one, sizeof(one)));

    /* 24 line bits that unstuff to 20 data bits: a frame by its length on
     * the line, so not whole bytes drops it. */
    memset(&s, 0, sizeof(s));
    put_flag(&s);
    for (i = 0; i < 24; i++)
        put_raw(&s, i % 6 != 5); /* five 1s and a stuffed 0, four times */
    put_flag(&s);
    run_stream(&s, &o);
    CHECK(o.dropped_reports == 1 && o.st.dir[2].misaligned == 1 && o.st.dir[2].runts == 0);
    CHECK(o.frame_reports == 0 && o.sync_reports == 1);

    /* Whole bytes but fewer than the shortest frame: runts. */
    for (i = 1; i < ITC_FW_MIN_FRAME; i++) {
        memset(&s, 0, sizeof(s));
        put_flag(&s);
        put_byte(&s, 0x82);
        if (i == 2)
            put_byte(&s, 0x14);
        put_flag(&s);
        run_stream(&s, &o);
        CHECK(o.frame_reports == 0 && o.dropped_reports == 0 && o.st.dir[2].runts == 1);
        CHECK(o.npkts == 0);
    }

    /* An abort after 23 line bits is a runt, after 24 a dropped frame;
     * either way skipped to the next delimiter, sync kept. */
    for (i = ITC_FW_MIN_FRAME * 8 - 1; i <= ITC_FW_MIN_FRAME * 8; i++) {
        int k;

        memset(&s, 0, sizeof(s));
        put_flag(&s);
        for (k = 0; k < i; k++)
            put_raw(&s, (i - 1 - k) & 1); /* ends with a 0 */
        for (k = 0; k < 7; k++)
            put_raw(&s, 1);
        /* Noise goes on a while before the line is idle again. */
        for (k = 0; k < 40; k++)
            put_raw(&s, k % 3 == 0);
        put_flag(&s);
        run_stream(&s, &o);
        if (i < ITC_FW_MIN_FRAME * 8) {
            CHECK(o.frame_reports == 0 && o.st.dir[2].runts == 1);
            CHECK(dropped(&o.st.dir[2]) == 0 && o.dropped_reports == 0);
        } else {
            CHECK(o.dropped_reports == 1 && o.st.dir[2].aborts == 1 && o.st.dir[2].runts == 0);
            CHECK(o.frame_reports == 0);
        }
        CHECK(o.sync_reports == 1);
    }
}

/* The longest packet passes; one byte more is over-long. */
static void test_max_length(void)
{
    struct drive dv = new_drive(0);
    static uint8_t pkt[ITC_FW_MAX_PACKET];
    static struct bits s;
    uint8_t got[ITC_FW_MAX_HOST_MSG];
    int len = -1;

    memset(pkt, 0xaa, sizeof(pkt));
    pkt[0] = 0x80 | 2;
    start_host(dv.fw);
    feed_flags(&dv, 0, 2);
    drain(dv.fw, NULL, NULL);
    memset(&s, 0, sizeof(s));
    put_frame(&s, pkt, sizeof(pkt), 0);
    feed_bits(&dv, 0, &s);
    CHECK(drain(dv.fw, got, &len) == 1);
    CHECK(len == ITC_FW_MAX_PACKET && memcmp(got + 1, pkt + 1, ITC_FW_MAX_PACKET - 1) == 0);
    itc_fw_free(dv.fw);
}

static void test_timeout(void)
{
    struct itc_fw_config cfg = test_config();
    struct drive dv;
    struct seen *sn = calloc(1, sizeof(*sn));
    struct itc_fw_stats st;
    int i;

    cfg.timeout_bits = 64;
    dv.fw = itc_fw_new(0, &cfg);
    dv.clk = 0;

    start_host(dv.fw);
    feed_flags(&dv, 0, 2);
    /* Keep SE and SW's clocks still; ET keeps going. */
    for (i = 0; i < 200; i++)
        feed(&dv, 0, (ITC_FW_FLAG >> (i % 8)) & 1);
    collect(dv.fw, sn);
    CHECK(sn->status[ITC_FW_STATUS_TIMEOUT][3] == 1); /* SE, once */
    CHECK(sn->status[ITC_FW_STATUS_TIMEOUT][5] == 1); /* SW */
    CHECK(sn->status[ITC_FW_STATUS_TIMEOUT][2] == 0); /* ET has a clock */
    itc_fw_get_stats(dv.fw, &st);
    CHECK(st.dir[1].timeouts == 1 && st.dir[0].timeouts == 0);
    CHECK(st.sync_bitmap == (1u << 2));
    /* ET's clock stops after sync: timeout, sync lost. */
    for (i = 0; i < 100; i++)
        itc_fw_step(dv.fw);
    memset(sn, 0, sizeof(*sn));
    collect(dv.fw, sn);
    CHECK(sn->status[ITC_FW_STATUS_TIMEOUT][2] == 1);
    itc_fw_get_stats(dv.fw, &st);
    CHECK(st.sync_bitmap == 0);
    /* A quiescent check: everything timed out and idle. */
    CHECK(itc_fw_quiescent(dv.fw));
    itc_fw_free(dv.fw);
    free(sn);
}

/* Packets that find the host side full are lost; the next one delivered
 * carries OVRN, and only that one. */
static void test_overflow_ovrn(void)
{
    struct drive dv = new_drive(0);
    struct bits s;
    uint8_t pkt[] = {0x80 | 2, 0x14, 0};
    uint8_t buf[ITC_FW_MAX_HOST_MSG];
    struct itc_fw_stats st;
    int i, len, seen_ovrn = 0, pkts = 0;

    start_host(dv.fw);
    feed_flags(&dv, 0, 2);
    drain(dv.fw, NULL, NULL);
    for (i = 0; i < ITC_FW_TO_HOST_SLOTS + 3; i++) {
        memset(&s, 0, sizeof(s));
        pkt[2] = (uint8_t)i;
        put_frame(&s, pkt, sizeof(pkt), 0);
        feed_bits(&dv, 0, &s);
    }
    itc_fw_get_stats(dv.fw, &st);
    CHECK(st.dir[0].host_overruns == 3);
    CHECK(drain(dv.fw, NULL, NULL) == ITC_FW_TO_HOST_SLOTS);
    for (i = 0; i < 2; i++) {
        memset(&s, 0, sizeof(s));
        pkt[2] = (uint8_t)(100 + i);
        put_frame(&s, pkt, sizeof(pkt), 0);
        feed_bits(&dv, 0, &s);
    }
    while ((len = itc_fw_pop_host(dv.fw, buf, sizeof(buf))) >= 0) {
        pkts++;
        if (buf[0] & ITC_FW_HDR_OVRN) {
            seen_ovrn++;
            CHECK(buf[2] == 100);
        }
    }
    CHECK(pkts == 2);
    CHECK(seen_ovrn == 1);
    itc_fw_free(dv.fw);
}

static void test_bounce_no_sync(void)
{
    struct drive dv = new_drive(0);
    uint8_t to_et[] = {0x80 | 2, 0x14, 'x'};
    uint8_t to_wt[] = {0x80 | 6, 0x14, 'y'}; /* PRU1's direction */
    uint8_t local[] = {0xc1, 1};
    uint8_t buf[ITC_FW_MAX_HOST_MSG];
    struct itc_fw_stats st;
    int len;

    CHECK(itc_fw_push_host(dv.fw, to_et, sizeof(to_et)) == 0); /* before start */
    itc_fw_step(dv.fw);
    CHECK(itc_fw_host_pending(dv.fw) == 0);
    start_host(dv.fw);
    itc_fw_step(dv.fw);
    drain(dv.fw, NULL, NULL);
    CHECK(itc_fw_push_host(dv.fw, to_et, sizeof(to_et)) == 0);
    CHECK(itc_fw_push_host(dv.fw, to_wt, sizeof(to_wt)) == 0);
    CHECK(itc_fw_push_host(dv.fw, local, sizeof(local)) == 0);
    itc_fw_step(dv.fw);
    len = itc_fw_pop_host(dv.fw, buf, sizeof(buf));
    CHECK(len == 5 && buf[0] == ITC_FW_MSG_BOUNCE && buf[1] == ITC_FW_BOUNCE_NO_SYNC &&
          memcmp(buf + 2, to_et, 3) == 0);
    itc_fw_step(dv.fw);
    len = itc_fw_pop_host(dv.fw, buf, sizeof(buf));
    CHECK(len == 5 && buf[0] == ITC_FW_MSG_BOUNCE && buf[1] == ITC_FW_BOUNCE_NO_SYNC &&
          memcmp(buf + 2, to_wt, 3) == 0);
    itc_fw_step(dv.fw);
    CHECK(itc_fw_pop_host(dv.fw, buf, sizeof(buf)) < 0);
    itc_fw_get_stats(dv.fw, &st);
    CHECK(st.host_ignored == 2 && st.dir[0].bounced_no_sync == 1);
    itc_fw_free(dv.fw);
}

/* rpmsg carries up to 496 bytes: a longer message cannot be sent at all;
 * one longer than a packet arrives whole and is ignored and counted, never
 * cut down to a packet (routed to a direction with sync, it would go out). */
static void test_host_message_too_long(void)
{
    struct drive dv = new_drive(0);
    static uint8_t big[ITC_FW_MAX_RPMSG_MSG + 1];
    struct itc_fw_stats st;

    memset(big, 0x33, sizeof(big));
    big[0] = 0x80 | 2;
    start_host(dv.fw);
    feed_flags(&dv, 0, 2); /* ET has sync */
    drain(dv.fw, NULL, NULL);
    CHECK(itc_fw_push_host(dv.fw, big, ITC_FW_MAX_RPMSG_MSG + 1) < 0);
    CHECK(itc_fw_push_host(dv.fw, big, ITC_FW_MAX_RPMSG_MSG) == 0);
    CHECK(itc_fw_push_host(dv.fw, big, ITC_FW_MAX_PACKET + 1) == 0);
    feed_flags(&dv, 0, 1);
    itc_fw_get_stats(dv.fw, &st);
    CHECK(st.host_ignored == 2);
    CHECK(st.dir[0].bounced_full == 0 && st.dir[0].bounced_no_sync == 0);
    CHECK(itc_fw_host_pending(dv.fw) == 0);
    /* Nothing went out on ET. */
    feed_flags(&dv, 0, 500);
    itc_fw_get_stats(dv.fw, &st);
    CHECK(st.dir[0].frames_sent == 0);
    /* The longest packet does go out. */
    CHECK(itc_fw_push_host(dv.fw, big, ITC_FW_MAX_PACKET) == 0);
    feed_flags(&dv, 0, 500);
    itc_fw_get_stats(dv.fw, &st);
    CHECK(st.dir[0].frames_sent == 1 && st.host_ignored == 2);
    itc_fw_free(dv.fw);
}

/* With no hold time, packets beyond the ring's room bounce "queue full";
 * every packet is either sent or bounced. */
static void test_bounce_queue_full(void)
{
    struct itc_fw_config cfg = test_config();
    struct drive dv;
    static uint8_t pkt[ITC_FW_MAX_PACKET];
    uint8_t buf[ITC_FW_MAX_HOST_MSG];
    struct itc_fw_stats st;
    int i, pushed = 0, bounced = 0, len;

    cfg.hold_bits = 0;
    dv.fw = itc_fw_new(0, &cfg);
    dv.clk = 0;
    memset(pkt, 0x11, sizeof(pkt));
    pkt[0] = 0x80 | 2;
    start_host(dv.fw);
    feed_flags(&dv, 0, 2);
    drain(dv.fw, NULL, NULL);
    for (i = 0; i < 10; i++) {
        if (itc_fw_push_host(dv.fw, pkt, sizeof(pkt)) == 0)
            pushed++;
        feed(&dv, 0, 0);
        feed(&dv, 0, 1);
    }
    while (itc_fw_push_host(dv.fw, NULL, 0) != 0)
        feed(&dv, 0, 0);
    while ((len = itc_fw_pop_host(dv.fw, buf, sizeof(buf))) >= 0) {
        if (buf[0] == ITC_FW_MSG_BOUNCE) {
            CHECK(buf[1] == ITC_FW_BOUNCE_QUEUE_FULL && len == ITC_FW_MAX_PACKET + 2);
            bounced++;
        }
    }
    itc_fw_get_stats(dv.fw, &st);
    CHECK(pushed == 10);
    /* One in the frame being sent, four in the ring. */
    CHECK(bounced == 5);
    CHECK(st.dir[0].bounced_full == 5);
    itc_fw_free(dv.fw);
}

/* Outputs and inputs on disjoint bits: the firmware drives only its output
 * bits, and reads only its input bits, so noise on every other R31 bit
 * (including the output bits' numbers) changes nothing. */
static void test_pin_map(void)
{
    struct drive dv = new_drive(0);
    struct bits s = {{0}, 0, 0};
    uint8_t pkt[] = {0x80 | 2, 0x14, 'p', 'i', 'n'};
    struct itc_fw_stats st;
    unsigned seed = 99;
    uint32_t driven = 0;
    int i, d;

    CHECK((ITC_FW_PIN_OUT_MASK & ITC_FW_PIN_IN_MASK) == 0);
    CHECK((ITC_FW_PIN_OUT_MASK & ~(uint32_t)ITC_FW_R30_PINS) == 0);
    CHECK((ITC_FW_PIN_IN_MASK & ~(uint32_t)ITC_FW_R31_PINS) == 0);
    for (d = 0; d < ITC_FW_DIRS; d++) {
        CHECK((ITC_FW_PIN_OUT_CLK(d) & ITC_FW_PIN_OUT_MASK) && (ITC_FW_PIN_OUT_DATA(d) & ITC_FW_PIN_OUT_MASK));
        CHECK((ITC_FW_PIN_IN_CLK(d) & ITC_FW_PIN_IN_MASK) && (ITC_FW_PIN_IN_DATA(d) & ITC_FW_PIN_IN_MASK));
        CHECK(wired(ITC_FW_PIN_OUT_CLK(d)) == ITC_FW_PIN_IN_CLK(d));
        CHECK(wired(ITC_FW_PIN_OUT_DATA(d)) == ITC_FW_PIN_IN_DATA(d));
    }
    start_host(dv.fw);
    put_flag(&s);
    put_flag(&s);
    put_frame(&s, pkt, sizeof(pkt), 0);
    put_flag(&s);
    for (i = 0; i < s.n; i++) {
        uint32_t noise = (seed = seed * 1103515245u + 12345u) & ~(uint32_t)ITC_FW_PIN_IN_MASK;

        dv.clk ^= 1u;
        itc_fw_set_inputs(dv.fw, noise | (dv.clk ? ITC_FW_PIN_IN_CLK(0) : 0) |
                                     (s.b[i] ? ITC_FW_PIN_IN_DATA(0) : 0));
        itc_fw_step(dv.fw);
        driven |= itc_fw_outputs(dv.fw);
    }
    itc_fw_get_stats(dv.fw, &st);
    CHECK(st.dir[0].packets_received == 1 && st.dir[0].syncs == 1);
    CHECK(st.dir[1].syncs == 0 && st.dir[2].syncs == 0);
    CHECK(driven == ITC_FW_PIN_OUT_MASK);
    itc_fw_free(dv.fw);
}

/* Two instances wired to each other: PRU0 of one tile faces PRU1 of its
 * neighbour with the same prudir (ET-WT, SE-NW, SW-NE). */
static void test_pair(void)
{
    struct itc_fw_config cfg = test_config();
    struct itc_fw *a = itc_fw_new(0, &cfg);
    struct itc_fw *b = itc_fw_new(1, &cfg);
    static uint8_t pkt[ITC_FW_MAX_PACKET];
    uint8_t buf[ITC_FW_MAX_HOST_MSG];
    int sent = 0, got = 0, ok = 1, step, len;
    unsigned seed = 12345;

    start_host(a);
    start_host(b);
    for (step = 0; step < 400000 && got < 100; step++) {
        itc_fw_step(a);
        itc_fw_step(b);
        itc_fw_set_inputs(b, wired(itc_fw_outputs(a)));
        itc_fw_set_inputs(a, wired(itc_fw_outputs(b)));
        if (step > 100 && sent < 100) {
            int n = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % ITC_FW_MAX_PACKET;
            int i;

            pkt[0] = 0x80 | 3; /* SE: arrives at b's NW */
            for (i = 1; i < n; i++)
                pkt[i] = (uint8_t)(sent + i);
            if (n > 1)
                pkt[1] = (uint8_t)sent;
            if (itc_fw_push_host(a, pkt, (size_t)n) == 0)
                sent++;
        }
        while (itc_fw_pop_host(a, buf, sizeof(buf)) >= 0)
            CHECK(buf[0] == ITC_FW_MSG_LINK_STATUS); /* no bounces */
        while ((len = itc_fw_pop_host(b, buf, sizeof(buf))) >= 0) {
            if (buf[0] == ITC_FW_MSG_LINK_STATUS)
                continue;
            if (buf[0] != (0x80 | 7) || (len > 1 && buf[1] != (uint8_t)got))
                ok = 0;
            got++;
        }
    }
    CHECK(sent == 100);
    CHECK(got == 100);
    CHECK(ok);
    itc_fw_free(a);
    itc_fw_free(b);
}

/* Three links gain sync and end a frame in the same step: the reports and
 * packets go to the host one per step, after the pins are driven, in the
 * order they arose, each packet whole. On SW a second frame follows at
 * once, sharing the delimiter, so its first bits arrive while the first
 * packet still waits in the outbox: that one is sent then, before the
 * buffer is reused. */
static void test_one_host_message_per_step(void)
{
    static const uint8_t hdr[ITC_FW_DIRS] = {0x80 | 2, 0x80 | 3, 0x80 | 5};
    struct drive dv = new_drive(0);
    static struct bits s[ITC_FW_DIRS];
    uint8_t pkt[40], second[] = {0x80 | 5, 0x14, 's', 'h', 'a', 'r', 'e', 'd'};
    uint8_t buf[ITC_FW_MAX_HOST_MSG];
    uint32_t sends, most = 0;
    unsigned clk = 0, queued = 0;
    int i, d, k, len, longest = 0, got[ITC_FW_DIRS] = {0, 0, 0}, got_second = 0, syncs = 0;
    uint16_t fcs;

    for (i = 0; i < (int)sizeof(pkt); i++)
        pkt[i] = (uint8_t)(i * 11);
    start_host(dv.fw);
    itc_fw_step(dv.fw);
    CHECK(drain(dv.fw, NULL, NULL) == 1); /* the monitor report */
    for (d = 0; d < ITC_FW_DIRS; d++) {
        struct bits other = {{0}, 0, 0};

        pkt[0] = hdr[d];
        put_flag(&other);
        put_frame(&other, pkt, sizeof(pkt), 0);
        longest = other.n > longest ? other.n : longest;
    }
    for (d = 0; d < ITC_FW_DIRS; d++) {
        /* The FCSs differ, and so may their stuffing: 0s before the first
         * delimiter (ignored while hunting) line the frames' ends up. */
        struct bits frame = {{0}, 0, 0};

        pkt[0] = hdr[d];
        put_flag(&frame);
        put_frame(&frame, pkt, sizeof(pkt), 0);
        memset(&s[d], 0, sizeof(s[d]));
        for (k = frame.n; k < longest; k++)
            put_raw(&s[d], 0);
        for (k = 0; k < frame.n; k++)
            put_raw(&s[d], frame.b[k]);
        if (d == 2) {
            fcs = itc_fw_crc16(second, sizeof(second));
            for (k = 0; k < (int)sizeof(second); k++)
                put_byte(&s[d], second[k]);
            put_byte(&s[d], (uint8_t)(fcs & 0xff));
            put_byte(&s[d], (uint8_t)(fcs >> 8));
        }
        put_flag(&s[d]);
        put_flag(&s[d]);
    }
    pkt[0] = hdr[0];
    for (i = 0; i < s[2].n; i++) {
        uint32_t in = 0;

        clk ^= 1u;
        for (d = 0; d < ITC_FW_DIRS; d++) {
            /* A link whose stream has ended keeps its clock still. */
            int at = i < s[d].n ? i : s[d].n - 1;

            in |= (clk ^ (unsigned)(at != i ? (i - at) & 1 : 0)) ? ITC_FW_PIN_IN_CLK(d) : 0;
            in |= s[d].b[at] ? ITC_FW_PIN_IN_DATA(d) : 0;
        }
        itc_fw_set_inputs(dv.fw, in);
        sends = dv.fw->hal.sends;
        itc_fw_step(dv.fw);
        if (dv.fw->hal.sends - sends > most)
            most = dv.fw->hal.sends - sends;
        if (dv.fw->out.count > queued)
            queued = dv.fw->out.count;
        while ((len = itc_fw_pop_host(dv.fw, buf, sizeof(buf))) >= 0) {
            if (buf[0] == ITC_FW_MSG_LINK_STATUS) {
                syncs += buf[1] == ITC_FW_STATUS_SYNC;
                /* Every sync report before any packet. */
                CHECK(got[0] + got[1] + got[2] == 0);
                continue;
            }
            for (d = 0; d < ITC_FW_DIRS; d++) {
                if (buf[0] == hdr[d] && len == (int)sizeof(pkt) &&
                    memcmp(buf + 1, pkt + 1, sizeof(pkt) - 1) == 0)
                    got[d]++;
            }
            if (len == (int)sizeof(second) && memcmp(buf, second, sizeof(second)) == 0) {
                CHECK(got[2] == 1); /* after the first on SW */
                got_second++;
            }
        }
    }
    /* Three packets at once: the step sent one, the other two waited; the
     * next step's first bit on SW sent both before the pins (the flush),
     * and no other step sent more than one. */
    CHECK(queued == 2);
    CHECK(most == 2);
    CHECK(dv.fw->hal.sends_before_pins == 2);
    CHECK(syncs == 3);
    CHECK(got[0] == 1 && got[1] == 1 && got[2] == 1 && got_second == 1);
    itc_fw_free(dv.fw);
}

/* Frame-check work is spread over the steps: two instances wired on all
 * three links, every direction kept busy both ways with packets up to the
 * longest (all-ones ones too, for stuffing), and no single itc_fw_step
 * folds more than one byte into any link's transmit or receive CRC. The
 * counters are the links' own (fw.h), bumped at every byte update. */
static void run_crc_work(unsigned spb, long steps, const char *what)
{
    struct itc_fw_config cfg = test_config();
    struct itc_fw *fw[2];
    static uint8_t pkt[ITC_FW_MAX_PACKET];
    uint8_t buf[ITC_FW_MAX_HOST_MSG];
    uint32_t before_tx[ITC_FW_DIRS], before_rx[ITC_FW_DIRS];
    uint32_t max_tx = 0, max_rx = 0, max_sends = 0, before_sends;
    uint64_t sent_bytes = 0, folded_rx = 0, folded_tx = 0;
    int delivered = 0, errors = 0, n = 0;
    unsigned seed = 777;
    long step;
    int side, d;

    cfg.tx_steps_per_bit = spb;
    fw[0] = itc_fw_new(0, &cfg);
    fw[1] = itc_fw_new(1, &cfg);
    start_host(fw[0]);
    start_host(fw[1]);
    for (step = 0; step < steps; step++) {
        for (side = 0; side < 2; side++) {
            struct itc_fw *f = fw[side];
            struct itc_fw_stats st;

            for (d = 0; d < ITC_FW_DIRS; d++) {
                before_tx[d] = f->tx[d].crc_bytes;
                before_rx[d] = f->rx[d].crc_bytes;
            }
            before_sends = f->hal.sends;
            itc_fw_step(f);
            if (f->hal.sends - before_sends > max_sends)
                max_sends = f->hal.sends - before_sends;
            for (d = 0; d < ITC_FW_DIRS; d++) {
                uint32_t dt = f->tx[d].crc_bytes - before_tx[d];
                uint32_t dr = f->rx[d].crc_bytes - before_rx[d];

                max_tx = dt > max_tx ? dt : max_tx;
                max_rx = dr > max_rx ? dr : max_rx;
            }
            itc_fw_get_stats(f, &st);
            /* One packet offered per step, to a direction with sync. */
            d = n % ITC_FW_DIRS;
            if (st.sync_bitmap & (1u << itc_fw_dir8((unsigned)side, (unsigned)d))) {
                int len = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) %
                                  ITC_FW_MAX_PACKET;

                if (n % 4 == 0)
                    len = ITC_FW_MAX_PACKET;
                memset(pkt, n % 3 == 0 ? 0xff : (uint8_t)n, (size_t)len);
                pkt[0] = (uint8_t)(0x80 | itc_fw_dir8((unsigned)side, (unsigned)d));
                if (itc_fw_push_host(f, pkt, (size_t)len) == 0)
                    sent_bytes += (uint64_t)len;
            }
            n++;
            while (itc_fw_pop_host(f, buf, sizeof(buf)) >= 0) {
                if (buf[0] == ITC_FW_MSG_LINK_STATUS) {
                    errors += buf[1] == ITC_FW_STATUS_FRAME || buf[1] == ITC_FW_STATUS_DROPPED;
                    continue;
                }
                delivered += (buf[0] & ITC_FW_HDR_KIND_MASK) == ITC_FW_HDR_ROUTED;
            }
        }
        itc_fw_set_inputs(fw[1], wired(itc_fw_outputs(fw[0])));
        itc_fw_set_inputs(fw[0], wired(itc_fw_outputs(fw[1])));
    }
    for (side = 0; side < 2; side++) {
        for (d = 0; d < ITC_FW_DIRS; d++) {
            folded_tx += fw[side]->tx[d].crc_bytes;
            folded_rx += fw[side]->rx[d].crc_bytes;
        }
    }
    printf("  (%s: %d packets delivered, %llu bytes folded tx, %llu rx; at most %u tx, %u rx "
           "per link per step)\n",
           what, delivered, (unsigned long long)folded_tx, (unsigned long long)folded_rx,
           max_tx, max_rx);
    CHECK(max_tx == 1 && max_rx == 1);
    /* And at most one message to the host per step, after the pins. */
    CHECK(max_sends == 1);
    CHECK(fw[0]->hal.sends_before_pins == 0 && fw[1]->hal.sends_before_pins == 0);
    CHECK(errors == 0);
    /* The run was busy: hundreds of frames, most of the wire time data. */
    CHECK(delivered > 300);
    CHECK(folded_tx > (uint64_t)steps / (8 * spb));
    /* The transmitters fold each packet byte once (the FCS is the
     * register itself); the receivers each byte of packet and FCS. */
    CHECK(folded_tx <= sent_bytes);
    CHECK(folded_rx >= folded_tx + 2u * (uint64_t)delivered - 6u * ITC_FW_MAX_FRAME);
    itc_fw_free(fw[0]);
    itc_fw_free(fw[1]);
}

static void test_crc_work_per_step(void)
{
    run_crc_work(1, 300000, "1 step per bit");
    run_crc_work(3, 600000, "3 steps per bit");
}

/* --- Two free-running ends: unequal step rates ---------------------------- */

struct drift {
    int sent[2];   /* packets pushed by A, by B */
    int got[2];    /* from A (at B), from B (at A): one past the last matched */
    int delivered[2]; /* packets delivered, from A, from B */
    int bad[2];    /* delivered packets that matched none sent after the last */
    uint32_t errors[2]; /* dropped frames and lost syncs counted at B, at A */
    uint32_t runts[2];  /* runts (line noise) counted at B, at A */
};

/* Packet `n` from side `side`: header, service 20, n, then bytes from n. */
static int drift_packet(int side, int n, uint8_t *p)
{
    int len = 3 + (n * 37) % 120, i;

    p[0] = (uint8_t)(0x80 | (side == 0 ? 3 : 7)); /* A's SE, B's NW */
    p[1] = 20;
    p[2] = (uint8_t)n;
    for (i = 3; i < len; i++)
        p[i] = (uint8_t)(n * 31 + i * 7 + side);
    return len;
}

/* A (PRU0) and B (PRU1) wired on prudir 1 (SE-NW), each sending `count`
 * packets to the other. A steps `ra` times while B steps `rb` times, the
 * steps interleaved in time order (A's k-th at k * rb, B's j-th at j * ra),
 * each end's outputs reaching the other's inputs at once. */
static void run_drift(unsigned spb, unsigned ra, unsigned rb, int count, struct drift *r)
{
    struct itc_fw_config cfg = test_config();
    struct itc_fw *fw[2];
    uint64_t t[2] = {0, 0};
    const uint64_t period[2] = {rb, ra};
    uint8_t pkt[ITC_FW_MAX_HOST_MSG], want[ITC_FW_MAX_HOST_MSG];
    struct itc_fw_stats st;
    long steps;
    int side, len;

    memset(r, 0, sizeof(*r));
    cfg.tx_steps_per_bit = spb;
    fw[0] = itc_fw_new(0, &cfg);
    fw[1] = itc_fw_new(1, &cfg);
    start_host(fw[0]);
    start_host(fw[1]);
    for (steps = 0; steps < 6000000 && (r->got[0] < count || r->got[1] < count); steps++) {
        side = t[0] <= t[1] ? 0 : 1;
        itc_fw_step(fw[side]);
        itc_fw_set_inputs(fw[!side], wired(itc_fw_outputs(fw[side])));
        t[side] += period[side];
        itc_fw_get_stats(fw[side], &st);
        if (r->sent[side] < count && (st.sync_bitmap & (1u << (side == 0 ? 3 : 7)))) {
            len = drift_packet(side, r->sent[side], pkt);
            if (itc_fw_push_host(fw[side], pkt, (size_t)len) == 0)
                r->sent[side]++;
        }
        while ((len = itc_fw_pop_host(fw[side], pkt, sizeof(pkt))) >= 0) {
            int from = !side, wlen;

            if (pkt[0] == ITC_FW_MSG_LINK_STATUS || pkt[0] == ITC_FW_MSG_BOUNCE)
                continue;
            r->delivered[from]++;
            /* Lost packets may be skipped; anything delivered must be
             * whole: the next or a later packet of the far end. */
            while (r->got[from] < count) {
                wlen = drift_packet(from, r->got[from], want);
                want[0] = (uint8_t)(0x80 | (from == 0 ? 7 : 3)); /* arrival dir */
                r->got[from]++;
                if (len == wlen && memcmp(pkt, want, (size_t)len) == 0)
                    break;
                if (pkt[2] == (uint8_t)(r->got[from] - 1) || r->got[from] == count) {
                    r->bad[from]++;
                    break;
                }
            }
        }
    }
    for (side = 0; side < 2; side++) {
        itc_fw_get_stats(fw[side], &st);
        r->errors[!side] = dropped(&st.dir[1]) + st.dir[1].no_delimiter;
        r->runts[!side] = st.dir[1].runts;
    }
    itc_fw_free(fw[0]);
    itc_fw_free(fw[1]);
}

/* Two or more steps per bit: the ends' step rates may differ by 5% either
 * way and every packet still crosses intact, both ways, with no frame
 * error. Three steps per bit (the PRU build's) tolerates far more. */
static void test_drift_tolerated(void)
{
    static const unsigned ratios[][2] = {{21, 20}, {20, 21}};
    struct drift r;
    unsigned spb, i;

    for (spb = 2; spb <= 3; spb++) {
        for (i = 0; i < 2; i++) {
            run_drift(spb, ratios[i][0], ratios[i][1], 40, &r);
            if (r.got[0] != 40 || r.got[1] != 40 || r.errors[0] || r.errors[1])
                printf("  (drift %u:%u, %u steps/bit: got %d %d, errors %u %u)\n",
                       ratios[i][0], ratios[i][1], spb, r.got[0], r.got[1], r.errors[0],
                       r.errors[1]);
            CHECK(r.sent[0] == 40 && r.sent[1] == 40);
            CHECK(r.delivered[0] == 40 && r.delivered[1] == 40);
            CHECK(r.bad[0] == 0 && r.bad[1] == 0);
            CHECK(r.errors[0] == 0 && r.errors[1] == 0);
            CHECK(r.runts[0] == 0 && r.runts[1] == 0);
        }
    }
    /* One end half as fast again as the other. */
    run_drift(3, 3, 2, 20, &r);
    CHECK(r.delivered[0] == 20 && r.delivered[1] == 20 && r.bad[0] == 0 && r.bad[1] == 0);
    CHECK(r.errors[0] == 0 && r.errors[1] == 0 && r.runts[0] == 0 && r.runts[1] == 0);
    run_drift(3, 2, 3, 20, &r);
    CHECK(r.delivered[0] == 20 && r.delivered[1] == 20 && r.bad[0] == 0 && r.bad[1] == 0);
    CHECK(r.errors[0] == 0 && r.errors[1] == 0 && r.runts[0] == 0 && r.runts[1] == 0);
}

/* One step per bit (the lockstep simulation's setting) between ends that
 * drift: the slower receiver misses clock edges. That must show as frame
 * errors, and nothing damaged may be delivered. */
static void test_drift_one_step_per_bit_detected(void)
{
    struct drift r;

    run_drift(1, 21, 20, 40, &r); /* A faster: B misses A's edges */
    CHECK(r.errors[0] > 0); /* counted at B */
    CHECK(r.bad[0] == 0);   /* nothing damaged delivered */
    /* B to A is clean (though B bounces what it sends while its own
     * receiver has lost sync). */
    CHECK(r.got[1] > 0 && r.errors[1] == 0 && r.bad[1] == 0);
    run_drift(1, 20, 21, 40, &r); /* B faster */
    CHECK(r.errors[1] > 0 && r.bad[1] == 0);
    CHECK(r.got[0] > 0 && r.errors[0] == 0 && r.bad[0] == 0);
}

static void test_monitor(void)
{
    struct itc_fw_config cfg = test_config();
    struct drive dv;
    struct seen *sn = calloc(1, sizeof(*sn));
    int i;

    cfg.monitor_bits = 50;
    dv.fw = itc_fw_new(0, &cfg);
    dv.clk = 0;
    start_host(dv.fw);
    for (i = 0; i < 160; i++)
        feed(&dv, 0, (ITC_FW_FLAG >> (i % 8)) & 1);
    collect(dv.fw, sn);
    /* The report at start, then every 50 bit times (the first with no
     * sync yet, the others with ET). */
    CHECK(sn->status[ITC_FW_STATUS_MONITOR][0] == 1);
    CHECK(sn->status[ITC_FW_STATUS_MONITOR][1u << 2] == 3);
    memset(sn, 0, sizeof(*sn));
    itc_fw_advance_idle(dv.fw, 49);
    collect(dv.fw, sn);
    CHECK(sn->status[ITC_FW_STATUS_MONITOR][1u << 2] == 1);
    itc_fw_free(dv.fw);
    free(sn);
}

int main(void)
{
    test_crc();
    test_crc_table();
    test_dir8_table();
    test_tx_stuffing();
    test_sync_and_start();
    test_good_packet_and_dir_rewrite();
    test_damaged_frames();
    test_idle_noise_is_runts();
    test_data_noise_drops_the_frame();
    test_runt_boundary();
    test_hunt_bound();
    test_hunt_bound_after_a_dropped_frame();
    test_max_length();
    test_timeout();
    test_overflow_ovrn();
    test_bounce_no_sync();
    test_host_message_too_long();
    test_bounce_queue_full();
    test_pin_map();
    test_pair();
    test_one_host_message_per_step();
    test_crc_work_per_step();
    test_monitor();
    test_drift_tolerated();
    test_drift_one_step_per_bit_detected();
    return CHECK_SUMMARY();
}
