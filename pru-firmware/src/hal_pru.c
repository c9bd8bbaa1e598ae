/*
 * hal_pru.c - the HAL on the PRU: pins are the R30 (out) and R31 (in)
 * registers, host messages go through the PRU support package's rpmsg
 * transport (set up and announced by its pru_rpmsg calls) and cross the
 * vrings a bounded piece per step through its virtqueue calls. Built by `make pru` (pru-gcc or TI clpru); `make pru-check`
 * compiles it with the host compiler against declarations of the support
 * package (tests/ssp-stub/) to catch type and signature errors.
 */
#include <stddef.h>
#include <string.h>

#include <pru_intc.h>
#include <pru_virtqueue.h>
#include <rsc_types.h>

#include "hal.h"

#if !defined(ITC_PRU) || (ITC_PRU != 0 && ITC_PRU != 1)
#error "ITC_PRU must be defined as 0 or 1"
#endif

/* The pin registers. */
#if defined(ITC_PRU_HOST_CHECK)
/* make pru-check: plain variables stand in for the registers. */
static volatile uint32_t __R30;
static volatile uint32_t __R31;
#elif defined(__TI_COMPILER_VERSION__)
volatile register uint32_t __R30;
volatile register uint32_t __R31;
#else
/* pru-gcc (GCC 12 and later) */
extern volatile __regio_symbol uint32_t __R30;
extern volatile __regio_symbol uint32_t __R31;
#endif

/*
 * rpmsg kicks through the PRU-ICSS INTC, one pair of system events per
 * PRU. Each event has its own channel, and channel n drives host interrupt
 * n: hosts 0 and 1 are R31 bits 30 and 31 of the PRUs, hosts 2..9 go to
 * the ARM. The resource table (resource_table.h) asks the kernel for this
 * mapping; the device tree's pru nodes name the same events.
 */
#if ITC_PRU == 0
#define TO_ARM_HOST 16     /* PRU0 to ARM: vring kick */
#define FROM_ARM_HOST 17   /* ARM to PRU0: message waiting */
#define TO_ARM_CHANNEL 2   /* to the ARM through host interrupt 2 */
#define FROM_ARM_CHANNEL 0 /* to PRU0 through host interrupt 0 */
#else
#define TO_ARM_HOST 18
#define FROM_ARM_HOST 19
#define TO_ARM_CHANNEL 3
#define FROM_ARM_CHANNEL 1
#endif
/* Host-to-PRU kick: the R31 bit of host interrupt FROM_ARM_CHANNEL. */
#define HOST_INT ((uint32_t)1 << (30 + FROM_ARM_CHANNEL))
#define CHAN_NAME "rpmsg-pru"
#define CHAN_DESC "T2 intertile links"
#ifndef CHAN_PORT
#define CHAN_PORT 30 /* 31 on PRU1: /dev/rpmsg_pru30, /dev/rpmsg_pru31 */
#endif
#define VIRTIO_CONFIG_S_DRIVER_OK 4

/* The resource table: the rpmsg vdev, its two vrings, the INTC mapping as
 * the TI 4.x kernels read it; and the same PRU-bound mapping as 5.10+
 * kernels read it, from .pru_irq_map. */
#include "resource_table.h"
#include "pru_irq_map.h"

/*
 * Host messages cross the vrings through the support package's virtqueue
 * calls, split over steps so that no call copies more than HAL_COPY_CHUNK
 * bytes to or from the ARM's DDR (README.md, "The step budget"). Each
 * call of hal_send, hal_send_more or hal_recv does one of:
 *
 *   TAKE    pru_virtqueue_get_avail_buf: a buffer, or none (try again);
 *   HEADER  the 16-byte rpmsg header, written (send) or read (receive);
 *   COPY    up to HAL_COPY_CHUNK bytes of the message;
 *   GIVE    pru_virtqueue_add_used_buf and pru_virtqueue_kick: the buffer
 *           back to the ARM, once per message.
 *
 * This is what the package's pru_rpmsg_send and pru_rpmsg_receive do in
 * one call each, with the same header and the same buffer length handed
 * back (the buffer's, as the package does).
 */
enum xfer_state {
    XFER_IDLE = 0,
    XFER_TAKE,
    XFER_HEADER,
    XFER_COPY,
    XFER_GIVE,
};

/* The rpmsg header at the start of every vring buffer, as Linux's
 * virtio_rpmsg_bus and the package's pru_rpmsg.c lay it out: 32-bit
 * source and destination addresses, a reserved word, the payload length
 * and flags, all little-endian like both the PRU and the ARM. */
struct rpmsg_hdr {
    uint32_t src;
    uint32_t dst;
    uint32_t reserved;
    uint16_t len;
    uint16_t flags;
};
#define RPMSG_HDR_LEN 16
/* The vring buffers Linux allocates (the resource table asks for no other
 * size): 512 bytes, header included. */
#define RPMSG_BUF_SIZE 512

#define HAL_ASSERT(name, cond) typedef char hal_assert_##name[(cond) ? 1 : -1]
HAL_ASSERT(hdr_size, sizeof(struct rpmsg_hdr) == RPMSG_HDR_LEN);
HAL_ASSERT(hdr_dst, offsetof(struct rpmsg_hdr, dst) == 4);
HAL_ASSERT(hdr_reserved, offsetof(struct rpmsg_hdr, reserved) == 8);
HAL_ASSERT(hdr_len, offsetof(struct rpmsg_hdr, len) == 12);
HAL_ASSERT(hdr_flags, offsetof(struct rpmsg_hdr, flags) == 14);
HAL_ASSERT(rpmsg_max, RPMSG_BUF_SIZE - RPMSG_HDR_LEN == ITC_FW_MAX_RPMSG_MSG);
/* The header goes in one call, no more than a chunk. */
HAL_ASSERT(hdr_is_a_chunk, RPMSG_HDR_LEN <= HAL_COPY_CHUNK);

/* Every copy to or from a vring buffer goes through here (the test counts
 * the bytes per step). */
#ifndef HAL_PRU_COPY
#define HAL_PRU_COPY(to, from, n) memcpy((to), (from), (n))
#endif

/* The PRU build sends one message per rpmsg buffer: it never agrees to
 * batching (fw.c), so this is never asked for. */
void hal_set_batched(struct itc_hal *hal, int on)
{
    (void)hal;
    (void)on;
}

void hal_init(struct itc_hal *hal)
{
    /* The resource table's vdev status says when Linux is ready. */
    volatile uint8_t *status = &resourceTable.rpmsg_vdev.status;

    while (!(*status & VIRTIO_CONFIG_S_DRIVER_OK))
        ;
    pru_rpmsg_init(&hal->transport, &resourceTable.rpmsg_vring0,
                   &resourceTable.rpmsg_vring1, TO_ARM_HOST, FROM_ARM_HOST);
    while (pru_rpmsg_channel(RPMSG_NS_CREATE, &hal->transport, CHAN_NAME, CHAN_DESC,
                             CHAN_PORT) != PRU_RPMSG_SUCCESS)
        ;
    hal->have_src = 0;
    hal->draining = 0;
    hal->send.state = XFER_IDLE;
    hal->recv.state = XFER_IDLE;
}

uint32_t hal_read_pins(struct itc_hal *hal)
{
    (void)hal;
    return __R31;
}

void hal_write_pins(struct itc_hal *hal, uint32_t r30)
{
    (void)hal;
    /* Only the link pins belong to the firmware. */
    __R30 = (__R30 & ~ITC_FW_PIN_OUT_MASK) | (r30 & ITC_FW_PIN_OUT_MASK);
}

/* The bytes of the message that go in this call: at most a chunk. */
static uint16_t chunk(const struct itc_hal_xfer *x)
{
    uint16_t left = (uint16_t)(x->len - x->done);

    return left < HAL_COPY_CHUNK ? left : HAL_COPY_CHUNK;
}

/* Takes a buffer of `vq` for `x`; 0 if the ARM has none free. */
static int take(struct pru_virtqueue *vq, struct itc_hal_xfer *x)
{
    void *buf;
    uint32_t size;
    int16_t head = pru_virtqueue_get_avail_buf(vq, &buf, &size);

    if (head < 0)
        return 0;
    x->head = head;
    x->vbuf = buf;
    x->size = size;
    x->done = 0;
    x->state = XFER_HEADER;
    return 1;
}

/* Hands `x`'s buffer back to the ARM and tells it so. */
static void give(struct pru_virtqueue *vq, struct itc_hal_xfer *x)
{
    pru_virtqueue_add_used_buf(vq, x->head, x->size);
    pru_virtqueue_kick(vq);
    x->state = XFER_IDLE;
}

/* One piece of the send under way. */
static int send_step(struct itc_hal *hal)
{
    struct itc_hal_xfer *x = &hal->send;
    struct pru_virtqueue *vq = &hal->transport.virtqueue0;

    switch (x->state) {
    case XFER_TAKE:
        /* None free: the message waits, as one that found the outbox
         * behind it would. */
        take(vq, x);
        return HAL_SENDING;
    case XFER_HEADER: {
        struct rpmsg_hdr hdr;

        hdr.src = hal->dst;
        hdr.dst = hal->src;
        hdr.reserved = 0;
        hdr.len = x->len;
        hdr.flags = 0;
        HAL_PRU_COPY(x->vbuf, &hdr, RPMSG_HDR_LEN);
        x->state = x->len ? XFER_COPY : XFER_GIVE;
        return HAL_SENDING;
    }
    case XFER_COPY: {
        uint16_t n = chunk(x);

        HAL_PRU_COPY(x->vbuf + RPMSG_HDR_LEN + x->done, x->msg + x->done, n);
        x->done = (uint16_t)(x->done + n);
        if (x->done == x->len)
            x->state = XFER_GIVE;
        return HAL_SENDING;
    }
    case XFER_GIVE:
        give(vq, x);
        return HAL_SENT;
    default:
        return HAL_SENT; /* nothing under way */
    }
}

int hal_send(struct itc_hal *hal, const uint8_t *msg, uint16_t len)
{
    struct itc_hal_xfer *x = &hal->send;

    /* No address to send to yet; longer than a vring buffer carries; or
     * (a caller's mistake) a send already under way. */
    if (!hal->have_src || len > ITC_FW_MAX_RPMSG_MSG || x->state != XFER_IDLE)
        return HAL_NO_ROOM;
    x->msg = msg;
    x->len = len;
    x->state = XFER_TAKE;
    return send_step(hal);
}

int hal_send_more(struct itc_hal *hal)
{
    return send_step(hal);
}

int hal_send_now(struct itc_hal *hal)
{
    int r;

    if (hal->send.state == XFER_TAKE) {
        if (!take(&hal->transport.virtqueue0, &hal->send)) {
            hal->send.state = XFER_IDLE;
            return HAL_NO_ROOM;
        }
    }
    while ((r = send_step(hal)) == HAL_SENDING)
        ;
    return r;
}

/*
 * One piece of a receive per call, into `buf` (ITC_FW_MAX_RPMSG_MSG
 * bytes, the same buffer in every call of one message); the message goes
 * to the caller only once it is all there and its buffer is back with the
 * ARM.
 *
 * The kick (the host interrupt bit in R31) is cleared before the queue is
 * read, then the queue is drained, one message after the other, until a
 * look finds nothing. A host write after the clear, even in the middle of
 * a message's copy, sets the kick again; one before it is found by the
 * draining. Clearing only after an empty look would lose a write that
 * lands between the two.
 */
int hal_recv(struct itc_hal *hal, uint8_t *buf, uint16_t *len)
{
    struct itc_hal_xfer *x = &hal->recv;
    struct pru_virtqueue *vq = &hal->transport.virtqueue1;

    if (__R31 & HOST_INT) {
        CT_INTC.SICR_bit.STS_CLR_IDX = FROM_ARM_HOST;
        hal->draining = 1;
    }
    switch (x->state) {
    case XFER_IDLE:
        if (!hal->draining)
            return 0;
        if (!take(vq, x))
            hal->draining = 0;
        return 0;
    case XFER_HEADER: {
        struct rpmsg_hdr hdr;

        HAL_PRU_COPY(&hdr, x->vbuf, RPMSG_HDR_LEN);
        hal->src = (uint16_t)hdr.src;
        hal->dst = (uint16_t)hdr.dst;
        hal->have_src = 1;
        x->len = hdr.len;
        /* Longer than rpmsg carries, or than the buffer holds: nothing is
         * copied, and the caller sees a message longer than a packet. */
        if (x->len == 0 || x->len > ITC_FW_MAX_RPMSG_MSG ||
            (uint32_t)x->len + RPMSG_HDR_LEN > x->size)
            x->state = XFER_GIVE;
        else
            x->state = XFER_COPY;
        return 0;
    }
    case XFER_COPY: {
        uint16_t n = chunk(x);

        HAL_PRU_COPY(buf + x->done, x->vbuf + RPMSG_HDR_LEN + x->done, n);
        x->done = (uint16_t)(x->done + n);
        if (x->done == x->len)
            x->state = XFER_GIVE;
        return 0;
    }
    default: /* XFER_GIVE */
        give(vq, x);
        *len = x->len;
        return 1;
    }
}

int hal_recv_pending(const struct itc_hal *hal)
{
    return hal->recv.state != XFER_IDLE || hal->draining || (__R31 & HOST_INT) != 0;
}
