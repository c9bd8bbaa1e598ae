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

struct msg {
    uint16_t len;
    uint8_t bytes[ITC_FW_MAX_RPMSG_MSG];
};

static struct {
    struct msg in[8]; /* host to PRU, oldest first */
    int nin;
    struct msg late; /* arrives during the next receive that finds none */
    int have_late;
    int kick;     /* status of the host-to-PRU system event */
    struct msg out[32];
    int nout;
    int bad_send; /* a send longer than a host message, or to nowhere */
} m;

static struct itc_fw fw;

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

static void host_write(const uint8_t *bytes, uint16_t len)
{
    struct msg *q = &m.in[m.nin++];

    q->len = len;
    memcpy(q->bytes, bytes, len);
    m.kick = 1;
    show_kick();
}

int16_t pru_rpmsg_init(struct pru_rpmsg_transport *transport, struct fw_rsc_vdev_vring *vring0,
                       struct fw_rsc_vdev_vring *vring1, uint32_t to_arm_event,
                       uint32_t from_arm_event)
{
    (void)vring0;
    (void)vring1;
    memset(transport, 0, sizeof(*transport));
    transport->virtqueue0.id = TRANSPORT_MAGIC;
    transport->virtqueue0.to_arm_event = to_arm_event;
    transport->virtqueue1.from_arm_event = from_arm_event;
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

int16_t pru_rpmsg_receive(struct pru_rpmsg_transport *transport, uint16_t *src, uint16_t *dst,
                          void *data, uint16_t *len)
{
    (void)transport;
    apply_sicr();
    if (m.nin == 0) {
        if (m.have_late) {
            m.have_late = 0;
            host_write(m.late.bytes, m.late.len);
        }
        return PRU_RPMSG_NO_BUF_AVAILABLE;
    }
    /* The whole message, whatever the buffer, as the package does. */
    memcpy(data, m.in[0].bytes, m.in[0].len);
    *len = m.in[0].len;
    *src = HOST_ADDR;
    *dst = CHAN_PORT;
    m.nin--;
    memmove(&m.in[0], &m.in[1], sizeof(m.in[0]) * (size_t)m.nin);
    return PRU_RPMSG_SUCCESS;
}

int16_t pru_rpmsg_send(struct pru_rpmsg_transport *transport, uint32_t src, uint32_t dst,
                       void *data, uint16_t len)
{
    (void)transport;
    if (len > ITC_FW_MAX_HOST_MSG || src != CHAN_PORT || dst != HOST_ADDR || m.nout == 32) {
        m.bad_send++;
        return PRU_RPMSG_BUF_TOO_SMALL;
    }
    m.out[m.nout].len = len;
    memcpy(m.out[m.nout].bytes, data, len);
    m.nout++;
    return PRU_RPMSG_SUCCESS;
}

/* --- Driving ---------------------------------------------------------------- */

static void boot(void)
{
    memset(&m, 0, sizeof(m));
    CT_INTC.SICR = SICR_IDLE;
    __R31 = 0;
    __R30 = 0;
    resourceTable.rpmsg_vdev.status = VIRTIO_CONFIG_S_DRIVER_OK;
    fw_init(&fw, ITC_PRU, 0);
}

static void step(int n)
{
    while (n-- > 0) {
        fw_step(&fw);
        apply_sicr();
    }
}

static int count_out(uint8_t b0, uint8_t b1)
{
    int i, n = 0;

    for (i = 0; i < m.nout; i++)
        n += m.out[i].len >= 2 && m.out[i].bytes[0] == b0 && m.out[i].bytes[1] == b1;
    return n;
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
    step(2);
    CHECK(count_out(ITC_FW_MSG_LINK_STATUS, ITC_FW_STATUS_MONITOR) == 1);
    CHECK(m.bad_send == 0);
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
    host_write(NULL, 0);
    step(2);
    m.nout = 0;
    /* Routed to ET: cut to 255 bytes it would pass for a packet. */
    memset(big, 0xaa, sizeof(big));
    big[0] = 0x80 | 2;
    host_write(big, ITC_FW_MAX_RPMSG_MSG);
    host_write(big, ITC_FW_MAX_PACKET + 1);
    step(4);
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
    step(2);
    CHECK(m.nout == 1 && m.out[0].len == ITC_FW_MAX_PACKET + 2);
    CHECK(m.nout == 1 && m.out[0].bytes[0] == ITC_FW_MSG_BOUNCE &&
          m.out[0].bytes[1] == ITC_FW_BOUNCE_NO_SYNC &&
          memcmp(&m.out[0].bytes[2], big, ITC_FW_MAX_PACKET) == 0);
    CHECK(fw.stats.host_ignored == 2 && fw.stats.dir[0].bounced_no_sync == 1);
    CHECK(m.bad_send == 0);
}

/* A host write that lands after the firmware found the queue empty, but
 * before it would clear the kick, must still be received. */
static void test_kick_during_empty_receive(void)
{
    boot();
    host_write(NULL, 0); /* start */
    step(1);
    CHECK(count_out(ITC_FW_MSG_LINK_STATUS, ITC_FW_STATUS_MONITOR) == 1);
    /* A second start (it repeats the report) arrives during the next
     * receive that finds nothing. */
    m.late.len = 0;
    m.have_late = 1;
    step(10);
    CHECK(!m.have_late); /* the race did happen */
    CHECK(count_out(ITC_FW_MSG_LINK_STATUS, ITC_FW_STATUS_MONITOR) == 2);
    /* And once everything is taken, the kick is cleared and stays so. */
    CHECK(m.kick == 0 && m.nin == 0);
}

/* Several messages behind one kick: all are taken, one per step. */
static void test_drain_behind_one_kick(void)
{
    static const uint8_t local[] = {0xc1, 1};

    boot();
    host_write(NULL, 0);
    host_write(local, sizeof(local));
    host_write(local, sizeof(local));
    host_write(local, sizeof(local));
    step(8);
    CHECK(m.nin == 0);
    CHECK(fw.stats.host_ignored == 3);
    CHECK(m.kick == 0);
}

int main(void)
{
    test_irq_map();
    test_start();
    test_long_messages();
    test_kick_during_empty_receive();
    test_drain_behind_one_kick();
    return CHECK_SUMMARY();
}
