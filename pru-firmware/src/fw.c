/*
 * fw.c - one step of the firmware, and its side of the host messages
 * (docs/pru-messages.md).
 *
 * A step samples every input, advances every transmitter by one step of
 * its bit (tx_steps_per_bit steps: data out at the first, the clock edge
 * at clk_step), takes at most one message from the host, counts down
 * the monitor report, drives the pins, and then does its piece of sending
 * the outbox's oldest message to the host (received packets, status,
 * bounces, in the order they arose): all of it in the host build, a
 * bounded piece on the PRU (hal.h).
 * Before the host's first (empty) message nothing is sent to it: received
 * packets are discarded and status changes are only remembered, to be
 * reported when the host starts.
 */
#include <string.h>

#include "fw.h"

/* The pin map of itc_fw.h: the masks hold exactly the link bits, outputs
 * and inputs are disjoint (R30 bit n and R31 bit n share a ball), and all
 * are bits the PRU brings out. */
#define FW_ASSERT(name, cond) typedef char fw_assert_##name[(cond) ? 1 : -1]
#define FW_OUT_BITS(d) (ITC_FW_PIN_OUT_CLK(d) | ITC_FW_PIN_OUT_DATA(d))
#define FW_IN_BITS(d) (ITC_FW_PIN_IN_CLK(d) | ITC_FW_PIN_IN_DATA(d))
FW_ASSERT(three_dirs, ITC_FW_DIRS == 3);
FW_ASSERT(out_mask, (FW_OUT_BITS(0) | FW_OUT_BITS(1) | FW_OUT_BITS(2)) == ITC_FW_PIN_OUT_MASK);
FW_ASSERT(in_mask, (FW_IN_BITS(0) | FW_IN_BITS(1) | FW_IN_BITS(2)) == ITC_FW_PIN_IN_MASK);
FW_ASSERT(disjoint, (ITC_FW_PIN_OUT_MASK & ITC_FW_PIN_IN_MASK) == 0);
FW_ASSERT(out_brought_out, (ITC_FW_PIN_OUT_MASK & ~ITC_FW_R30_PINS) == 0);
FW_ASSERT(in_brought_out, (ITC_FW_PIN_IN_MASK & ~ITC_FW_R31_PINS) == 0);

static const uint8_t dir8_table[2][ITC_FW_DIRS] = {
    ITC_FW_PRU0_DIR8,
    ITC_FW_PRU1_DIR8,
};

uint8_t itc_fw_dir8(unsigned pru, unsigned prudir)
{
    if (pru > 1 || prudir >= ITC_FW_DIRS)
        return 0xff;
    return dir8_table[pru][prudir];
}

void itc_fw_config_default(struct itc_fw_config *cfg)
{
    cfg->timeout_bits = ITC_FW_DEFAULT_TIMEOUT_BITS;
    cfg->monitor_bits = ITC_FW_DEFAULT_MONITOR_BITS;
    cfg->hold_bits = ITC_FW_DEFAULT_HOLD_BITS;
    cfg->tx_steps_per_bit = ITC_FW_DEFAULT_TX_STEPS_PER_BIT;
    cfg->batch = 1;
}

uint32_t fw_steps(const struct itc_fw *fw, uint32_t bits)
{
    uint64_t steps = (uint64_t)bits * fw->steps_per_bit;

    return steps > UINT32_MAX ? UINT32_MAX : (uint32_t)steps;
}

void fw_init(struct itc_fw *fw, unsigned pru, const struct itc_fw_config *cfg)
{
    unsigned d;

    memset(fw, 0, sizeof(*fw));
    fw->pru = (uint8_t)pru;
    if (cfg)
        fw->cfg = *cfg;
    else
        itc_fw_config_default(&fw->cfg);
    if (fw->cfg.tx_steps_per_bit == 0)
        fw->cfg.tx_steps_per_bit = 1;
    if (fw->cfg.tx_steps_per_bit > ITC_FW_MAX_TX_STEPS_PER_BIT)
        fw->cfg.tx_steps_per_bit = ITC_FW_MAX_TX_STEPS_PER_BIT;
    fw->steps_per_bit = (uint8_t)fw->cfg.tx_steps_per_bit;
    /* The data goes out at the bit's first step; the clock edge follows
     * once the data has been out for (steps - 1) / 2 steps, which leaves it
     * at least as long after the edge. */
    fw->clk_step = (uint8_t)((fw->steps_per_bit - 1u) / 2u);
    fw->timeout_steps = fw_steps(fw, fw->cfg.timeout_bits);
    fw->monitor_steps = fw_steps(fw, fw->cfg.monitor_bits);
    fw->hold_steps = fw_steps(fw, fw->cfg.hold_bits);
    for (d = 0; d < ITC_FW_DIRS; d++) {
        tx_init(&fw->tx[d]);
        rx_init(&fw->rx[d]);
    }
    hal_init(&fw->hal);
}

static void send_head_now(struct itc_fw *fw);

/* Queues one message for the host. A full outbox sends its oldest entry
 * at once (a long step, but nothing is lost that the host could take). */
static void out_push(struct itc_fw *fw, uint8_t kind, uint8_t a, uint8_t b)
{
    struct itc_outbox *o = &fw->out;
    unsigned at;

    if (o->count == OUTBOX_SLOTS)
        send_head_now(fw);
    at = o->head + o->count;
    if (at >= OUTBOX_SLOTS)
        at -= OUTBOX_SLOTS;
    o->q[at].kind = kind;
    o->q[at].a = a;
    o->q[at].b = b;
    o->count++;
}

/* Status to the host once it has started (before, only remembered in the
 * counters and the bitmap, reported at the start). */
void fw_send_status(struct itc_fw *fw, uint8_t code, uint8_t arg)
{
    if (fw->started)
        out_push(fw, OUT_STATUS, code, arg);
}

void fw_deliver(struct itc_fw *fw, unsigned prudir, uint16_t len)
{
    struct itc_rx *rx = &fw->rx[prudir];

    /* Only routed packets cross a link; anything else is not ours to pass
     * on. */
    if ((rx->buf[0] & ITC_FW_HDR_KIND_MASK) != ITC_FW_HDR_ROUTED) {
        fw->stats.dir[prudir].not_routed++;
        return;
    }
    if (!fw->started)
        return;
    rx->deliver_len = len;
    out_push(fw, OUT_PACKET, (uint8_t)prudir, 0);
}

/* Starts sending the outbox's head entry from where its bytes lie:
 * HAL_SENT, HAL_SENDING or HAL_NO_ROOM (hal.h). */
static int send_start(struct itc_fw *fw)
{
    struct itc_outbox *o = &fw->out;
    const struct itc_out *e = &o->q[o->head];

    switch (e->kind) {
    case OUT_PACKET: {
        struct itc_rx *rx = &fw->rx[e->a];
        uint8_t hdr = rx->buf[0];

        /* Keep kind and MFMT; DIR becomes where it came from; EROR is
         * never set on a delivered packet (damaged frames are not
         * delivered). */
        hdr &= (uint8_t)(ITC_FW_HDR_KIND_MASK | ITC_FW_HDR_MFMT);
        hdr |= itc_fw_dir8(fw->pru, e->a);
        if (rx->lost)
            hdr |= ITC_FW_HDR_OVRN;
        rx->buf[0] = hdr;
        return hal_send(&fw->hal, rx->buf, rx->deliver_len);
    }
    case OUT_BOUNCE: {
        struct itc_hold *h = &fw->hold;
        uint8_t *b = &h->msg[h->at - 2u];

        b[0] = ITC_FW_MSG_BOUNCE;
        b[1] = e->a;
        return hal_send(&fw->hal, b, (uint16_t)(h->len + 2u));
    }
    case OUT_FRAMING:
        o->status[0] = ITC_FW_MSG_FRAMING;
        o->status[1] = e->a;
        return hal_send(&fw->hal, o->status, ITC_FW_FRAMING_LEN);
    default:
        o->status[0] = ITC_FW_MSG_LINK_STATUS;
        o->status[1] = e->a;
        o->status[2] = e->b;
        return hal_send(&fw->hal, o->status, sizeof(o->status));
    }
}

/* The head entry is done with (`sent`, or lost: a full host side): its
 * bytes are free, and it leaves the outbox. */
static void send_done(struct itc_fw *fw, int sent)
{
    struct itc_outbox *o = &fw->out;
    const struct itc_out *e = &o->q[o->head];

    switch (e->kind) {
    case OUT_PACKET: {
        /* A lost packet marks the link's next one OVRN. */
        struct itc_rx *rx = &fw->rx[e->a];

        if (sent) {
            rx->lost = 0;
            fw->stats.dir[e->a].packets_received++;
        } else {
            rx->lost = 1;
            fw->stats.dir[e->a].host_overruns++;
        }
        rx->deliver_len = 0;
        break;
    }
    case OUT_BOUNCE:
        if (!sent)
            fw->stats.status_lost++;
        fw->hold.full = 0;
        fw->hold.bouncing = 0;
        break;
    case OUT_FRAMING:
        /* The agreement goes alone; everything after it is batched. A
         * lost one leaves the host waiting for it: it gives up on the
         * device and starts it again. */
        if (!sent)
            fw->stats.status_lost++;
        hal_set_batched(&fw->hal, e->a & ITC_FW_FRAMING_BATCHED);
        fw->stats.batched = (uint8_t)(e->a & ITC_FW_FRAMING_BATCHED);
        break;
    default:
        /* The periodic monitor report repairs lost status. */
        if (!sent)
            fw->stats.status_lost++;
        break;
    }
    o->sending = 0;
    o->head = (uint8_t)(o->head + 1u == OUTBOX_SLOTS ? 0 : o->head + 1u);
    o->count--;
}

void fw_send_one(struct itc_fw *fw)
{
    struct itc_outbox *o = &fw->out;
    int r;

    if (o->count == 0)
        return;
    r = o->sending ? hal_send_more(&fw->hal) : send_start(fw);
    if (r == HAL_SENDING)
        o->sending = 1;
    else
        send_done(fw, r == HAL_SENT);
}

/* The head entry, all of it now (a long step): its bytes are needed, or
 * its slot. A message still waiting for a host buffer is lost, and
 * counted. */
static void send_head_now(struct itc_fw *fw)
{
    struct itc_outbox *o = &fw->out;
    int r;

    if (o->count == 0)
        return;
    r = o->sending ? HAL_SENDING : send_start(fw);
    if (r == HAL_SENDING)
        r = hal_send_now(&fw->hal);
    send_done(fw, r == HAL_SENT);
}

void fw_flush_delivery(struct itc_fw *fw, unsigned prudir)
{
    while (fw->rx[prudir].deliver_len != 0 && fw->out.count != 0)
        send_head_now(fw);
    fw->rx[prudir].deliver_len = 0;
}

/* Bounces the hold's message (it stays held until the bounce is sent). */
static void bounce(struct itc_fw *fw, uint8_t reason)
{
    fw->hold.full = 1;
    fw->hold.bouncing = 1;
    out_push(fw, OUT_BOUNCE, reason, 0);
}

/* The host (re)started: say where every direction stands. A restarted
 * host (itcd reopening the device) gets the same picture as a new one. */
static void start(struct itc_fw *fw)
{
    unsigned d;

    fw->started = 1;
    fw->stats.started = 1;
    /* The framing: batched if the host offered it just before, else one
     * message per packet, whatever an earlier host agreed. */
    fw->batch_in = fw->offered;
    if (fw->offered) {
        out_push(fw, OUT_FRAMING, ITC_FW_FRAMING_BATCHED, 0);
    } else {
        hal_set_batched(&fw->hal, 0);
        fw->stats.batched = 0;
    }
    fw->offered = 0;
    for (d = 0; d < ITC_FW_DIRS; d++) {
        uint8_t dir8 = itc_fw_dir8(fw->pru, d);

        if (fw->rx[d].synced)
            fw_send_status(fw, ITC_FW_STATUS_SYNC, dir8);
        else if (fw->rx[d].timed_out)
            fw_send_status(fw, ITC_FW_STATUS_TIMEOUT, dir8);
    }
    fw_send_status(fw, ITC_FW_STATUS_MONITOR, fw->stats.sync_bitmap);
    fw->monitor_left = fw->monitor_steps;
}

static int prudir_of(const struct itc_fw *fw, uint8_t dir8)
{
    unsigned d;

    for (d = 0; d < ITC_FW_DIRS; d++) {
        if (itc_fw_dir8(fw->pru, d) == dir8)
            return (int)d;
    }
    return -1;
}

/* Places the held packet in its ring, or bounces it. */
static void place_held(struct itc_fw *fw)
{
    struct itc_hold *h = &fw->hold;
    struct itc_fw_dir_stats *st = &fw->stats.dir[h->prudir];

    if (!fw->rx[h->prudir].synced) {
        st->bounced_no_sync++;
        bounce(fw, ITC_FW_BOUNCE_NO_SYNC);
        return;
    }
    if (tx_enqueue(&fw->tx[h->prudir], &h->msg[h->at], h->len) == 0) {
        h->full = 0;
        return;
    }
    /* Waiting here, rather than bouncing at once, leaves later host
     * messages in the host's queue: the host sees back-pressure instead of
     * losses while a ring drains at the line rate. */
    if (h->waited++ >= fw->hold_steps) {
        st->bounced_full++;
        bounce(fw, ITC_FW_BOUNCE_QUEUE_FULL);
    }
}

/* hal_recv copies whole messages, up to the rpmsg maximum, into the hold
 * buffer, a piece per step on the PRU (the hold is not full meanwhile, so
 * nothing else touches it); the length rule below is applied once a
 * message is complete. A bounce is sent from the same buffer, its header
 * in front, and no message is received while it is held. */
FW_ASSERT(hold_fits_rpmsg,
          sizeof(((struct itc_hold *)0)->msg) >= HOLD_AT + ITC_FW_MAX_RPMSG_MSG);
FW_ASSERT(bounce_fits, HOLD_AT + ITC_FW_MAX_PACKET <= ITC_FW_MAX_HOST_MSG);

/* Holds the packet of `len` bytes at h->msg[at] and places it (or bounces
 * it); anything else than a routed packet is ignored and counted. */
static void take_packet(struct itc_fw *fw, uint16_t at, uint16_t len)
{
    struct itc_hold *h = &fw->hold;
    int prudir;

    if (len > ITC_FW_MAX_PACKET ||
        (h->msg[at] & ITC_FW_HDR_KIND_MASK) != ITC_FW_HDR_ROUTED) {
        /* No local or non-standard commands are defined yet; a message
         * longer than a packet is none, and is never cut down to one. */
        fw->stats.host_ignored++;
        return;
    }
    h->at = at;
    h->len = len;
    prudir = prudir_of(fw, h->msg[at] & ITC_FW_HDR_DIR_MASK);
    if (prudir < 0) {
        /* Not one of this PRU's directions: no link, so no sync. */
        bounce(fw, ITC_FW_BOUNCE_NO_SYNC);
        return;
    }
    h->full = 1;
    h->prudir = (uint8_t)prudir;
    h->waited = 0;
    place_held(fw);
}

/* Nonzero if the `len` bytes at `b` are a well-formed batch: items of
 * 1..ITC_FW_MAX_BATCH_ITEM bytes, the last ending with the message. */
static int batch_ok(const uint8_t *b, uint16_t len)
{
    uint16_t at = 0;

    if (len == 0)
        return 0;
    while (at < len) {
        if (b[at] == 0 || b[at] > len - at - 1u)
            return 0;
        at = (uint16_t)(at + 1u + b[at]);
    }
    return 1;
}

/* The next item of the batch in the hold, one per step. */
static void take_item(struct itc_fw *fw)
{
    struct itc_hold *h = &fw->hold;
    uint16_t len = h->msg[h->next];
    uint16_t at = (uint16_t)(h->next + 1u);

    h->next = (uint16_t)(at + len);
    take_packet(fw, at, len);
}

static void take_host_message(struct itc_fw *fw)
{
    struct itc_hold *h = &fw->hold;
    uint16_t len = 0;

    if (h->full) {
        if (!h->bouncing)
            place_held(fw);
        return;
    }
    if (h->next < h->end) {
        take_item(fw);
        return;
    }
    if (!hal_recv(&fw->hal, &h->msg[HOLD_AT], &len))
        return;
    if (len == 0) {
        start(fw);
        return;
    }
#ifndef ITC_FW_TARGET_PRU
    /* The offer, before the start it applies to. A firmware that does not
     * batch (or the PRU build, whose HAL does not) treats it as any other
     * message: ignored. */
    if (fw->cfg.batch && len == ITC_FW_FRAMING_LEN && h->msg[HOLD_AT] == ITC_FW_MSG_FRAMING) {
        fw->offered = h->msg[HOLD_AT + 1] & ITC_FW_FRAMING_BATCHED;
        return;
    }
#endif
    if (!fw->started) {
        fw->stats.host_ignored++;
        return;
    }
    if (fw->batch_in) {
        /* A malformed batch is refused whole, before any item goes. */
        if (!batch_ok(&h->msg[HOLD_AT], len)) {
            fw->stats.host_ignored++;
            return;
        }
        h->next = HOLD_AT;
        h->end = (uint16_t)(HOLD_AT + len);
        take_item(fw);
        return;
    }
    take_packet(fw, HOLD_AT, len);
}

static void monitor_tick(struct itc_fw *fw, uint32_t steps)
{
    if (!fw->started || fw->monitor_steps == 0)
        return;
    if (fw->monitor_left > steps) {
        fw->monitor_left -= steps;
        return;
    }
    fw_send_status(fw, ITC_FW_STATUS_MONITOR, fw->stats.sync_bitmap);
    fw->monitor_left = fw->monitor_steps;
}

void fw_step(struct itc_fw *fw)
{
    uint32_t in = hal_read_pins(&fw->hal);
    uint32_t out = 0;
    unsigned d;

    for (d = 0; d < ITC_FW_DIRS; d++) {
        rx_sample(fw, d, (in & ITC_FW_PIN_IN_CLK(d)) ? 1 : 0,
                  (in & ITC_FW_PIN_IN_DATA(d)) ? 1 : 0);
    }
    take_host_message(fw);
    for (d = 0; d < ITC_FW_DIRS; d++) {
        struct itc_tx *tx = &fw->tx[d];

        if (fw->bit_step == 0) {
            uint8_t was_closing = tx->closing;

            tx->data = tx_next_bit(tx);
            if (was_closing && !tx->closing)
                fw->stats.dir[d].frames_sent++;
        }
        if (fw->bit_step == fw->clk_step)
            tx->clk ^= 1u;
        if (tx->data)
            out |= ITC_FW_PIN_OUT_DATA(d);
        if (tx->clk)
            out |= ITC_FW_PIN_OUT_CLK(d);
    }
    if (++fw->bit_step == fw->steps_per_bit)
        fw->bit_step = 0;
    hal_write_pins(&fw->hal, out);
    monitor_tick(fw, 1);
    /* The step's piece of a message to the host, after the pins. */
    fw_send_one(fw);
}

int fw_quiescent(const struct itc_fw *fw)
{
    unsigned d;

    if (fw->hold.full || fw->hold.next < fw->hold.end || fw->out.count != 0 ||
        hal_recv_pending(&fw->hal))
        return 0;
    for (d = 0; d < ITC_FW_DIRS; d++) {
        const struct itc_rx *rx = &fw->rx[d];

        if (!tx_idle(&fw->tx[d]))
            return 0;
        /* A receiver counting toward a timeout (no edge for longer than
         * a bit), or hunting on a live wire, is about to report
         * something; one skipping noise is not between frames. */
        if (!rx->timed_out &&
            (!rx->synced || rx->discarding || rx->quiet >= fw->steps_per_bit))
            return 0;
    }
    return 1;
}

/* No wire moves while idle: the report goes to the host at once. */
void fw_advance_idle(struct itc_fw *fw, uint32_t bits)
{
    monitor_tick(fw, fw_steps(fw, bits));
    while (fw->out.count != 0)
        send_head_now(fw);
}
