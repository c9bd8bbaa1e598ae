/*
 * test_hal_pru.c - the PRU build's HAL (src/hal_pru.c) and the firmware's
 * shared sources, run on the host against a model of what the HAL talks
 * to on the board:
 *
 *   - rpmsg: pru_rpmsg_receive copies the whole message into the caller's
 *     buffer before anyone sees its length, as the support package's does;
 *     the host may send up to ITC_FW_MAX_RPMSG_MSG bytes;
 *   - the INTC: a host write sets the status of the host-to-PRU system
 *     event, which shows as the R31 host interrupt bit until the firmware
 *     clears it through SICR. A SICR write takes effect before the
 *     firmware's next rpmsg call, or at the end of the step.
 *
 * Built by `make test` with the pru-check flags (ITC_PRU_HOST_CHECK, PRU0)
 * and linked with the pru-check objects of the shared sources. hal_pru.c
 * is included, not linked, so the test reaches its stand-in registers and
 * its resource table.
 *
 * Prints one line per failed check and "N passed, N failed" at the end;
 * exits non-zero if anything failed.
 */
#include <stdio.h>
#include <string.h>

#include <stdint.h>

/* Every copy the HAL makes to or from a vring buffer, counted per step
 * and checked against the buffers' ownership (model_copy, below). */
static void model_copy(void *to, const void *from, size_t n);
#define HAL_PRU_COPY(to, from, n) model_copy((to), (from), (n))

#include "hal_pru.c"

#include "check.h"
#include "fw.h"

/* --- The model ------------------------------------------------------------ */

/* The support package places these at the PRU's registers. */
volatile pruIntc CT_INTC;

/* SICR with no clear written: an index no system event has. */
#define SICR_IDLE 0x3ffu
/* The host's rpmsg address. */
#define HOST_ADDR 1024
/* Marks the transport as set up by pru_rpmsg_init. */
#define TRANSPORT_MAGIC 0x7a11u
/* Buffers per vring and their size, as the resource table and Linux make
 * them. */
#define NBUF ITC_RSC_VRING_NUM
#define BUF_SIZE 512

/* The vring structures (virtio's layout; the stub leaves them
 * incomplete). */
struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct vring_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[NBUF];
};

struct vring_used_elem {
    uint32_t id;
    uint32_t len;
};

struct vring_used {
    uint16_t flags;
    uint16_t idx;
    struct vring_used_elem ring[NBUF];
};

/* Who has a buffer: the ARM (not offered), offered to the PRU (on the
 * avail ring), the PRU (taken), or back on the used ring. */
enum owner { ARM, AVAIL, PRU, USED };

/* One vring and its buffers in the ARM's DDR, with the ARM's side. */
struct mvq {
    struct vring_desc desc[NBUF];
    struct vring_avail avail;
    struct vring_used used;
    uint8_t mem[NBUF][BUF_SIZE];
    uint8_t owner[NBUF];
    uint16_t used_seen; /* used entries the ARM has taken back */
    int adds;           /* pru_virtqueue_add_used_buf calls */
    int kicks;          /* pru_virtqueue_kick calls */
    int bad;            /* calls the package would refuse or misuse */
};

struct msg {
    uint16_t len;
    uint8_t bytes[ITC_FW_MAX_RPMSG_MSG + 1];
};

static struct {
    struct mvq to_arm;   /* vring0: PRU to ARM */
    struct mvq from_arm; /* vring1: ARM to PRU */
    int kick;            /* status of the host-to-PRU system event */
    struct msg late;     /* arrives during the next look that finds none */
    int have_late;
    int hold_to_arm;     /* the ARM keeps the to-ARM buffers it reads */
    uint16_t held[NBUF]; /* ... these */
    int nheld;
    struct msg out[64]; /* what the ARM read, in order */
    int nout;
    int bad_msg; /* a to-ARM buffer with a wrong header */
    /* Bytes copied this step into to-ARM buffers and out of from-ARM
     * ones, and the most of each in any step. */
    size_t copied_to, copied_from;
    size_t most_to, most_from;
    int bad_copy;       /* a copy outside a buffer the PRU holds */
} m;

static struct itc_fw fw;

static void host_write(const uint8_t *bytes, uint16_t len);

static void show_kick(void)
{
    __R31 = (__R31 & ~HOST_INT) | (m.kick ? HOST_INT : 0);
}

static void apply_sicr(void)
{
    if (CT_INTC.SICR_bit.STS_CLR_IDX == FROM_ARM_HOST)
        m.kick = 0;
    CT_INTC.SICR = SICR_IDLE;
    show_kick();
}

static void arm_offer(struct mvq *q, uint16_t id)
{
    q->avail.ring[q->avail.idx % NBUF] = id;
    q->avail.idx++;
    q->owner[id] = AVAIL;
}

static void mvq_init(struct mvq *q, struct pru_virtqueue *vq)
{
    uint16_t i;

    memset(q, 0, sizeof(*q));
    for (i = 0; i < NBUF; i++) {
        q->desc[i].addr = (uint64_t)(uintptr_t)q->mem[i];
        q->desc[i].len = BUF_SIZE;
        q->owner[i] = ARM;
    }
    vq->vring.num = NBUF;
    vq->vring.desc = q->desc;
    vq->vring.avail = &q->avail;
    vq->vring.used = &q->used;
    vq->last_avail_idx = 0;
}

static struct mvq *mvq_of(struct pru_virtqueue *vq)
{
    return vq == &fw.hal.transport.virtqueue0 ? &m.to_arm : &m.from_arm;
}

/* Where `p` lies in a buffer (its vring and index), or NULL. */
static struct mvq *buf_of(const void *p, size_t n, int *id)
{
    struct mvq *qs[2] = {&m.to_arm, &m.from_arm};
    const uint8_t *b = p;
    int k;

    for (k = 0; k < 2; k++) {
        const uint8_t *lo = &qs[k]->mem[0][0];

        if (b >= lo && b < lo + sizeof(qs[k]->mem)) {
            *id = (int)((size_t)(b - lo) / BUF_SIZE);
            /* Not past the buffer's end. */
            if ((size_t)(b - qs[k]->mem[*id]) + n > BUF_SIZE)
                m.bad_copy++;
            return qs[k];
        }
    }
    return NULL;
}

static void model_copy(void *to, const void *from, size_t n)
{
    int id = 0;
    struct mvq *qt = buf_of(to, n, &id), *qf;

    /* One end in a buffer the PRU holds (the to-ARM ring written, the
     * from-ARM one read), the other not in any. */
    if (qt) {
        if (qt != &m.to_arm || qt->owner[id] != PRU || buf_of(from, n, &id))
            m.bad_copy++;
        m.copied_to += n;
    } else {
        qf = buf_of(from, n, &id);
        if (qf != &m.from_arm || qf->owner[id] != PRU)
            m.bad_copy++;
        m.copied_from += n;
    }
    memcpy(to, from, n);
}

int16_t pru_virtqueue_get_avail_buf(struct pru_virtqueue *vq, void **buf, uint32_t *len)
{
    struct mvq *q = mvq_of(vq);
    uint16_t head;

    apply_sicr();
    if (vq->last_avail_idx == q->avail.idx) {
        if (q == &m.from_arm && m.have_late) {
            /* The host writes just after this look: the kick is set
             * again. */
            m.have_late = 0;
            host_write(m.late.bytes, m.late.len);
        }
        return PRU_VIRTQUEUE_NO_BUF_AVAILABLE;
    }
    head = q->avail.ring[vq->last_avail_idx++ % NBUF];
    if (q->owner[head] != AVAIL)
        q->bad++;
    q->owner[head] = PRU;
    *buf = (void *)(uintptr_t)q->desc[head].addr;
    *len = q->desc[head].len;
    return (int16_t)head;
}

int16_t pru_virtqueue_add_used_buf(struct pru_virtqueue *vq, int16_t head, uint32_t len)
{
    struct mvq *q = mvq_of(vq);

    apply_sicr();
    if (head < 0 || head >= NBUF || q->owner[head] != PRU) {
        q->bad++;
        return PRU_VIRTQUEUE_INVALID_HEAD;
    }
    /* The package hands back the buffer's length. */
    if (len != BUF_SIZE)
        q->bad++;
    q->used.ring[q->used.idx % NBUF].id = (uint32_t)head;
    q->used.ring[q->used.idx % NBUF].len = len;
    q->used.idx++;
    q->owner[head] = USED;
    q->adds++;
    return PRU_VIRTQUEUE_SUCCESS;
}

int16_t pru_virtqueue_kick(struct pru_virtqueue *vq)
{
    struct mvq *q = mvq_of(vq);

    apply_sicr();
    q->kicks++;
    /* One kick for each buffer handed back, right after it. */
    if (q->kicks != q->adds)
        q->bad++;
    return PRU_VIRTQUEUE_SUCCESS;
}

/* The host writes a message: a free buffer of the from-ARM ring, the
 * rpmsg header and the bytes (as many as the buffer holds), offered, and
 * the kick. */
static void host_write(const uint8_t *bytes, uint16_t len)
{
    struct mvq *q = &m.from_arm;
    struct rpmsg_hdr hdr;
    uint16_t id, fit = len < BUF_SIZE - RPMSG_HDR_LEN ? len : BUF_SIZE - RPMSG_HDR_LEN;

    for (id = 0; id < NBUF && q->owner[id] != ARM; id++)
        ;
    if (id == NBUF) {
        q->bad++; /* the test wrote more than the ring holds */
        return;
    }
    hdr.src = HOST_ADDR;
    hdr.dst = CHAN_PORT;
    hdr.reserved = 0;
    hdr.len = len;
    hdr.flags = 0;
    memcpy(q->mem[id], &hdr, sizeof(hdr));
    if (fit)
        memcpy(q->mem[id] + RPMSG_HDR_LEN, bytes, fit);
    arm_offer(q, id);
    m.kick = 1;
    show_kick();
}

/* The ARM takes back what the PRU handed back: from-ARM buffers are free
 * again; to-ARM messages are read (the header checked) and their buffers
 * offered again, or kept while hold_to_arm. */
static void arm_collect(void)
{
    struct mvq *q = &m.from_arm;

    while (q->used_seen != q->used.idx)
        q->owner[q->used.ring[q->used_seen++ % NBUF].id] = ARM;
    q = &m.to_arm;
    while (q->used_seen != q->used.idx) {
        uint16_t id = (uint16_t)q->used.ring[q->used_seen++ % NBUF].id;
        struct rpmsg_hdr hdr;

        memcpy(&hdr, q->mem[id], sizeof(hdr));
        if (hdr.src != CHAN_PORT || hdr.dst != HOST_ADDR || hdr.reserved != 0 ||
            hdr.flags != 0 || hdr.len > ITC_FW_MAX_RPMSG_MSG || m.nout == 64) {
            m.bad_msg++;
        } else {
            m.out[m.nout].len = hdr.len;
            memcpy(m.out[m.nout].bytes, q->mem[id] + RPMSG_HDR_LEN, hdr.len);
            m.nout++;
        }
        /* Scribble over it: nothing may count on what was there. */
        memset(q->mem[id], 0xee, BUF_SIZE);
        q->owner[id] = ARM;
        if (m.hold_to_arm)
            m.held[m.nheld++] = id;
        else
            arm_offer(q, id);
    }
}

/* The ARM gives back the to-ARM buffers it kept. */
static void arm_release(void)
{
    int i;

    m.hold_to_arm = 0;
    for (i = 0; i < m.nheld; i++)
        arm_offer(&m.to_arm, m.held[i]);
    m.nheld = 0;
}

int16_t pru_rpmsg_init(struct pru_rpmsg_transport *transport, struct fw_rsc_vdev_vring *vring0,
                       struct fw_rsc_vdev_vring *vring1, uint32_t to_arm_event,
                       uint32_t from_arm_event)
{
    uint16_t i;

    (void)vring0;
    (void)vring1;
    memset(transport, 0, sizeof(*transport));
    transport->virtqueue0.id = TRANSPORT_MAGIC;
    transport->virtqueue0.to_arm_event = to_arm_event;
    transport->virtqueue1.from_arm_event = from_arm_event;
    mvq_init(&m.to_arm, &transport->virtqueue0);
    mvq_init(&m.from_arm, &transport->virtqueue1);
    /* Linux offers every to-ARM buffer at once. */
    for (i = 0; i < NBUF; i++)
        arm_offer(&m.to_arm, i);
    return PRU_RPMSG_SUCCESS;
}

int16_t pru_rpmsg_channel(enum pru_rpmsg_ns_flags flags, struct pru_rpmsg_transport *transport,
                          char *name, char *desc, int32_t port)
{
    (void)flags;
    (void)transport;
    (void)name;
    (void)desc;
    (void)port;
    return PRU_RPMSG_SUCCESS;
}

/* --- Driving ---------------------------------------------------------------- */

/* A fresh model and firmware: the defaults, with monitor reports every
 * `monitor_bits` (0: none besides the start's), and no timeouts (the
 * tests' links have no far end, and their reports would only mix with
 * the messages checked). */
static void boot_monitor(uint32_t monitor_bits)
{
    struct itc_fw_config cfg;

    itc_fw_config_default(&cfg);
    cfg.timeout_bits = 0;
    cfg.monitor_bits = monitor_bits;
    memset(&m, 0, sizeof(m));
    CT_INTC.SICR = SICR_IDLE;
    __R31 = 0;
    __R30 = 0;
    resourceTable.rpmsg_vdev.status = VIRTIO_CONFIG_S_DRIVER_OK;
    fw_init(&fw, ITC_PRU, &cfg);
}

static void boot(void)
{
    boot_monitor(0);
}

/* `n` steps, each followed by the INTC and the ARM catching up. */
static void step(int n)
{
    while (n-- > 0) {
        m.copied_to = m.copied_from = 0;
        fw_step(&fw);
        apply_sicr();
        if (m.copied_to > m.most_to)
            m.most_to = m.copied_to;
        if (m.copied_from > m.most_from)
            m.most_from = m.copied_from;
        arm_collect();
    }
}

static int count_out(uint8_t b0, uint8_t b1)
{
    int i, n = 0;

    for (i = 0; i < m.nout; i++)
        n += m.out[i].len >= 2 && m.out[i].bytes[0] == b0 && m.out[i].bytes[1] == b1;
    return n;
}

/* Nothing the package or Linux would refuse happened, and no step copied
 * more than a chunk each way: the checks every test ends with. */
static void check_model(void)
{
    CHECK(m.to_arm.bad == 0 && m.from_arm.bad == 0);
    CHECK(m.bad_msg == 0 && m.bad_copy == 0);
    CHECK(m.most_to <= HAL_COPY_CHUNK && m.most_from <= HAL_COPY_CHUNK);
    CHECK(m.to_arm.adds == m.to_arm.kicks && m.from_arm.adds == m.from_arm.kicks);
}

/* A message of `len` bytes, different for every (len, tag). */
static void fill(uint8_t *b, uint16_t len, uint8_t tag)
{
    uint16_t i;

    for (i = 0; i < len; i++)
        b[i] = (uint8_t)(i * 7u + len + tag);
}

/* The host starts the firmware, and its report is read. */
static void start_host(void)
{
    host_write(NULL, 0);
    step(8); /* take, header, hand back; take, header, 3 bytes, hand back */
    CHECK(count_out(ITC_FW_MSG_LINK_STATUS, ITC_FW_STATUS_MONITOR) == 1);
    m.nout = 0;
}

/* A routed packet to ET (no sync: bounced) of `len` bytes, tagged. */
static void routed(uint8_t *b, uint16_t len, uint8_t tag)
{
    fill(b, len, tag);
    if (len)
        b[0] = 0x80 | 2;
}

/* m.out[at] is the bounce of routed(len, tag). */
static int is_bounce_of(int at, uint16_t len, uint8_t tag)
{
    uint8_t want[ITC_FW_MAX_PACKET];

    routed(want, len, tag);
    return at < m.nout && m.out[at].len == len + 2 && m.out[at].bytes[0] == ITC_FW_MSG_BOUNCE &&
           m.out[at].bytes[1] == ITC_FW_BOUNCE_NO_SYNC &&
           memcmp(&m.out[at].bytes[2], want, len) == 0;
}

/* --- Tests ----------------------------------------------------------------- */

/* The .pru_irq_map bytes of PRU0: type 0, one event, {17, 0, 0}. */
static void test_irq_map(void)
{
    static const uint8_t want[] = {0, 1, 17, 0, 0};

    CHECK(sizeof(itc_pru_irq_map) == sizeof(want));
    CHECK(memcmp(&itc_pru_irq_map, want, sizeof(want)) == 0);
}

static void test_start(void)
{
    boot();
    CHECK(fw.hal.transport.virtqueue0.id == TRANSPORT_MAGIC);
    host_write(NULL, 0);
    step(20);
    CHECK(count_out(ITC_FW_MSG_LINK_STATUS, ITC_FW_STATUS_MONITOR) == 1);
    CHECK(m.nout == 1 && m.out[0].len == ITC_FW_STATUS_LEN);
    /* One buffer each way, each handed back and kicked once. */
    CHECK(m.from_arm.adds == 1 && m.to_arm.adds == 1);
    check_model();
}

/* The HAL alone, both ways: messages of every interesting length cross
 * whole and in order, at most a chunk per call; 497 bytes is more than a
 * vring buffer carries. */
static void test_hal_lengths(void)
{
    static const uint16_t lens[] = {0, 1, 3, 255, 256, 496, 497};
    enum { NLENS = sizeof(lens) / sizeof(lens[0]) };
    static uint8_t msgs[NLENS][ITC_FW_MAX_RPMSG_MSG + 1];
    static uint8_t buf[ITC_FW_MAX_RPMSG_MSG];
    uint8_t want[ITC_FW_MAX_RPMSG_MSG + 1];
    uint16_t len = 0;
    int i, r, calls;

    boot();
    /* ARM to PRU: each message written whole by the host. */
    for (i = 0; i < NLENS; i++) {
        fill(msgs[i], lens[i], (uint8_t)i);
        host_write(msgs[i], lens[i]);
    }
    for (i = 0; i < NLENS; i++) {
        memset(buf, 0x5a, sizeof(buf));
        calls = 0;
        do {
            m.copied_from = 0;
            r = hal_recv(&fw.hal, buf, &len);
            CHECK(m.copied_from <= HAL_COPY_CHUNK && m.copied_to == 0);
            apply_sicr();
            arm_collect();
        } while (!r && ++calls < 100);
        CHECK(r == 1 && len == lens[i]);
        if (lens[i] <= ITC_FW_MAX_RPMSG_MSG) {
            CHECK(memcmp(buf, msgs[i], lens[i]) == 0);
            /* A take, the header, the chunks, the hand-back. */
            CHECK(calls == 2 + (lens[i] + HAL_COPY_CHUNK - 1) / HAL_COPY_CHUNK);
        } else {
            /* Not copied at all: not a byte past the hold. */
            memset(want, 0x5a, sizeof(buf));
            CHECK(memcmp(buf, want, sizeof(buf)) == 0);
            CHECK(calls == 2);
        }
        CHECK(m.from_arm.adds == i + 1 && m.from_arm.kicks == i + 1);
    }
    CHECK(hal_recv(&fw.hal, buf, &len) == 0);
    CHECK(!hal_recv_pending(&fw.hal) && m.kick == 0);
    CHECK(fw.hal.have_src && fw.hal.src == HOST_ADDR && fw.hal.dst == CHAN_PORT);

    /* PRU to ARM: each from where it lies, untouched until sent. */
    for (i = 0; i < NLENS; i++) {
        calls = 0;
        m.copied_to = 0;
        r = hal_send(&fw.hal, msgs[i], lens[i]);
        while (r == HAL_SENDING && ++calls < 100) {
            CHECK(m.copied_to <= HAL_COPY_CHUNK);
            m.copied_to = 0;
            r = hal_send_more(&fw.hal);
            arm_collect();
        }
        CHECK(m.copied_to <= HAL_COPY_CHUNK && m.copied_from == 0);
        if (lens[i] <= ITC_FW_MAX_RPMSG_MSG) {
            CHECK(r == HAL_SENT);
            CHECK(calls == 2 + (lens[i] + HAL_COPY_CHUNK - 1) / HAL_COPY_CHUNK);
        } else {
            CHECK(r == HAL_NO_ROOM && calls == 0);
        }
    }
    CHECK(m.nout == NLENS - 1);
    for (i = 0; i < NLENS - 1 && i < m.nout; i++)
        CHECK(m.out[i].len == lens[i] && memcmp(m.out[i].bytes, msgs[i], lens[i]) == 0);
    CHECK(m.to_arm.adds == NLENS - 1);
    check_model();
}

/* The same lengths through the firmware: 0 starts it; 1, 3 and 255 are
 * routed packets to ET, which has no sync, so each comes back whole as a
 * bounce (3, 5 and 257 bytes); 256, 496 and 497 are no packets and are
 * ignored and counted. */
static void test_fw_lengths(void)
{
    static const uint16_t lens[] = {1, 3, 255, 256, 496, 497};
    static uint8_t b[ITC_FW_MAX_RPMSG_MSG + 1];
    unsigned i;

    boot();
    start_host();
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        routed(b, lens[i], (uint8_t)i);
        host_write(b, lens[i]);
    }
    step(400);
    CHECK(m.nout == 3);
    CHECK(is_bounce_of(0, 1, 0) && is_bounce_of(1, 3, 1) && is_bounce_of(2, 255, 2));
    CHECK(fw.stats.host_ignored == 3 && fw.stats.dir[0].bounced_no_sync == 3);
    CHECK(fw.stats.status_lost == 0);
    CHECK(m.from_arm.adds == 7 && m.to_arm.adds == 4);
    CHECK(fw.out.count == 0 && !fw.hold.full && !hal_recv_pending(&fw.hal));
    check_model();
}

/* The ARM stops giving the to-ARM buffers back: messages wait (the one
 * due holds its place at the head of the outbox; host messages behind the
 * bounce wait in their vring), nothing is lost or reordered, and all go
 * once the buffers come back. */
static void test_to_arm_full(void)
{
    uint8_t b[40];
    int i;

    boot();
    start_host();
    m.hold_to_arm = 1;
    for (i = 0; i < 12; i++) {
        routed(b, (uint16_t)(10 + i), (uint8_t)i);
        host_write(b, (uint16_t)(10 + i));
    }
    step(600);
    for (; i < 20; i++) {
        routed(b, (uint16_t)(10 + i), (uint8_t)i);
        host_write(b, (uint16_t)(10 + i));
    }
    step(600);
    /* Sixteen buffers, sixteen bounces; the seventeenth waits for one. */
    CHECK(m.nout == NBUF && m.nheld == NBUF);
    CHECK(fw.out.count == 1 && fw.out.sending && fw.hold.bouncing);
    CHECK(fw.stats.status_lost == 0 && fw.stats.dir[0].bounced_no_sync == NBUF + 1);
    CHECK(m.to_arm.adds == 1 + NBUF);
    CHECK(!fw_quiescent(&fw));
    arm_release();
    step(600);
    CHECK(m.nout == 20);
    for (i = 0; i < 20; i++)
        CHECK(is_bounce_of(i, (uint16_t)(10 + i), (uint8_t)i));
    CHECK(fw.stats.status_lost == 0 && fw.stats.dir[0].bounced_no_sync == 20);
    CHECK(m.to_arm.adds == 21 && m.from_arm.adds == 21);
    CHECK(fw.out.count == 0 && !fw.hold.full && !hal_recv_pending(&fw.hal));
    check_model();
}

/* When the firmware cannot wait (here: the outbox is full while the ARM
 * keeps every buffer), the oldest message is given up and counted, never
 * dropped silently; the rest go once the buffers come back. */
static void test_forced_loss_counted(void)
{
    int reports;

    boot_monitor(10); /* a report every 10 steps */
    start_host();
    m.hold_to_arm = 1;
    step(400); /* 40 reports: 16 sent, 16 waiting, the rest pushed out */
    CHECK(m.nout == NBUF && fw.out.count == OUTBOX_SLOTS);
    CHECK(fw.stats.status_lost > 0);
    fw.monitor_steps = 0; /* no more */
    arm_release();
    step(200);
    reports = count_out(ITC_FW_MSG_LINK_STATUS, ITC_FW_STATUS_MONITOR);
    CHECK(reports == m.nout && fw.out.count == 0);
    CHECK(reports + (int)fw.stats.status_lost >= 39 && reports + (int)fw.stats.status_lost <= 41);
    check_model();
}

/* A host write that lands while a message is being copied in (the kick
 * already cleared) is received after it. */
static void test_kick_during_split_receive(void)
{
    static uint8_t b[ITC_FW_MAX_PACKET];
    int i;

    boot();
    start_host();
    routed(b, ITC_FW_MAX_PACKET, 1);
    host_write(b, ITC_FW_MAX_PACKET);
    for (i = 0; i < 100 && !(fw.hal.recv.state == XFER_COPY && fw.hal.recv.done > 0); i++)
        step(1);
    CHECK(fw.hal.recv.state == XFER_COPY && fw.hal.recv.done > 0 && m.kick == 0);
    routed(b, ITC_FW_MAX_PACKET, 2);
    host_write(b, ITC_FW_MAX_PACKET);
    step(400);
    CHECK(m.nout == 2 && is_bounce_of(0, ITC_FW_MAX_PACKET, 1) &&
          is_bounce_of(1, ITC_FW_MAX_PACKET, 2));
    CHECK(m.kick == 0 && !hal_recv_pending(&fw.hal));
    CHECK(m.from_arm.adds == 3 && m.to_arm.adds == 3);
    check_model();
}

/* rpmsg messages up to 496 bytes: received whole, without overrunning the
 * buffer, and ignored unless they are at most a packet long; nothing is
 * truncated into a packet. */
static void test_long_messages(void)
{
    static uint8_t big[ITC_FW_MAX_RPMSG_MSG];
    struct itc_fw_dir_stats zero_dir;
    unsigned d;

    boot();
    start_host();
    /* Routed to ET: cut to 255 bytes it would pass for a packet. */
    memset(big, 0xaa, sizeof(big));
    big[0] = 0x80 | 2;
    host_write(big, ITC_FW_MAX_RPMSG_MSG);
    host_write(big, ITC_FW_MAX_PACKET + 1);
    step(100);
    CHECK(fw.stats.host_ignored == 2);
    memset(&zero_dir, 0, sizeof(zero_dir));
    for (d = 0; d < ITC_FW_DIRS; d++) {
        CHECK(memcmp(&fw.stats.dir[d], &zero_dir, sizeof(zero_dir)) == 0);
        CHECK(fw.tx[d].count == 0);
    }
    CHECK(fw.stats.status_lost == 0 && fw.stats.sync_bitmap == 0 && fw.stats.started == 1);
    CHECK(fw.hal.transport.virtqueue0.id == TRANSPORT_MAGIC);
    CHECK(fw.hal.have_src == 1 && fw.hal.src == HOST_ADDR && fw.hal.dst == CHAN_PORT);
    CHECK(m.nout == 0); /* not bounced, not delivered: ignored */
    /* The longest packet is one: no sync on ET yet, so it bounces whole. */
    host_write(big, ITC_FW_MAX_PACKET);
    step(100);
    CHECK(m.nout == 1 && m.out[0].len == ITC_FW_MAX_PACKET + 2);
    CHECK(m.nout == 1 && m.out[0].bytes[0] == ITC_FW_MSG_BOUNCE &&
          m.out[0].bytes[1] == ITC_FW_BOUNCE_NO_SYNC &&
          memcmp(&m.out[0].bytes[2], big, ITC_FW_MAX_PACKET) == 0);
    CHECK(fw.stats.host_ignored == 2 && fw.stats.dir[0].bounced_no_sync == 1);
    check_model();
}

/* A host write that lands after the firmware found the queue empty, but
 * before it would clear the kick, must still be received. */
static void test_kick_during_empty_receive(void)
{
    boot();
    host_write(NULL, 0); /* start */
    /* A second start (it repeats the report) arrives during the first
     * look that finds nothing, after the first start was taken. */
    m.late.len = 0;
    m.have_late = 1;
    step(3);
    CHECK(m.have_late && m.from_arm.adds == 1);
    step(30);
    CHECK(!m.have_late); /* the race did happen */
    CHECK(count_out(ITC_FW_MSG_LINK_STATUS, ITC_FW_STATUS_MONITOR) == 2);
    /* And once everything is taken, the kick is cleared and stays so. */
    CHECK(m.kick == 0 && !hal_recv_pending(&fw.hal));
    check_model();
}

/* Several messages behind one kick: all are taken, one after the other. */
static void test_drain_behind_one_kick(void)
{
    static const uint8_t local[] = {0xc1, 1};

    boot();
    host_write(NULL, 0);
    host_write(local, sizeof(local));
    host_write(local, sizeof(local));
    host_write(local, sizeof(local));
    step(40);
    CHECK(fw.hal.transport.virtqueue1.last_avail_idx == m.from_arm.avail.idx);
    CHECK(fw.stats.host_ignored == 3);
    CHECK(m.kick == 0 && m.from_arm.adds == 4);
    check_model();
}

int main(void)
{
    test_irq_map();
    test_start();
    test_hal_lengths();
    test_fw_lengths();
    test_to_arm_full();
    test_kick_during_split_receive();
    test_forced_loss_counted();
    test_long_messages();
    test_kick_during_empty_receive();
    test_drain_behind_one_kick();
    return CHECK_SUMMARY();
}
