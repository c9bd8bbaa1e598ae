/*
 * hal_host.c - the HAL of the host build: pins are two words the caller
 * sets and reads between steps, and rpmsg is two fixed queues of message
 * slots (host to firmware, firmware to host), bounded like the rpmsg
 * buffers on the board. Messages cross whole, in one call: nothing is ever
 * under way between steps (the PRU build splits them, hal_pru.c).
 */
#include <string.h>

#include "hal.h"

void hal_init(struct itc_hal *hal)
{
    memset(hal, 0, sizeof(*hal));
}

uint32_t hal_read_pins(struct itc_hal *hal)
{
    hal->pins_driven = 0;
    return hal->r31;
}

void hal_write_pins(struct itc_hal *hal, uint32_t r30)
{
    hal->r30 = r30;
    hal->pins_driven = 1;
}

/* The slot to fill next, or -1 if the queue is full. */
static int queue_in(struct itc_hal_queue *q, unsigned nslots)
{
    if (q->count >= nslots)
        return -1;
    return (int)((q->head + q->count++) % nslots);
}

/* The slot to empty next (now free), or -1 if the queue is empty. */
static int queue_out(struct itc_hal_queue *q, unsigned nslots)
{
    int at;

    if (q->count == 0)
        return -1;
    at = q->head;
    q->head = (uint8_t)((q->head + 1u) % nslots);
    q->count--;
    return at;
}

void hal_set_batched(struct itc_hal *hal, int on)
{
    hal->batched = on ? 1 : 0;
}

/* Batched: `msg` as an item of the newest slot the host has not taken,
 * or of a new one; one too long for an item goes alone in a new slot,
 * after ITC_FW_BATCH_LONE. */
static int send_batched(struct itc_hal *hal, const uint8_t *msg, uint16_t len)
{
    struct itc_hal_msg *m;
    int at;

    if (len == 0 || len > ITC_FW_MAX_HOST_MSG)
        return HAL_NO_ROOM;
    if (len <= ITC_FW_MAX_BATCH_ITEM && hal->to_host_q.count > 0) {
        m = &hal->to_host[(hal->to_host_q.head + hal->to_host_q.count - 1u) %
                          ITC_FW_TO_HOST_SLOTS];
        if (!m->closed && m->len + 1u + len <= ITC_FW_MAX_RPMSG_MSG) {
            m->bytes[m->len] = (uint8_t)len;
            memcpy(&m->bytes[m->len + 1u], msg, len);
            m->len = (uint16_t)(m->len + 1u + len);
            return HAL_SENT;
        }
    }
    if ((at = queue_in(&hal->to_host_q, ITC_FW_TO_HOST_SLOTS)) < 0)
        return HAL_NO_ROOM;
    m = &hal->to_host[at];
    m->closed = len > ITC_FW_MAX_BATCH_ITEM;
    m->bytes[0] = m->closed ? ITC_FW_BATCH_LONE : (uint8_t)len;
    memcpy(&m->bytes[1], msg, len);
    m->len = (uint16_t)(len + 1u);
    return HAL_SENT;
}

int hal_send(struct itc_hal *hal, const uint8_t *msg, uint16_t len)
{
    int at;

    hal->sends++;
    if (!hal->pins_driven)
        hal->sends_before_pins++;
    if (hal->batched)
        return send_batched(hal, msg, len);
    if (len > ITC_FW_MAX_HOST_MSG || (at = queue_in(&hal->to_host_q, ITC_FW_TO_HOST_SLOTS)) < 0)
        return HAL_NO_ROOM;
    hal->to_host[at].len = len;
    hal->to_host[at].closed = 1;
    if (len)
        memcpy(hal->to_host[at].bytes, msg, len);
    return HAL_SENT;
}

/* Whole messages: nothing is ever under way. */
int hal_send_more(struct itc_hal *hal)
{
    (void)hal;
    return HAL_SENT;
}

int hal_send_now(struct itc_hal *hal)
{
    (void)hal;
    return HAL_SENT;
}

/* The whole message, up to the rpmsg maximum, into `buf` in one call (the
 * PRU build copies it over several). */
int hal_recv(struct itc_hal *hal, uint8_t *buf, uint16_t *len)
{
    int at = queue_out(&hal->from_host_q, ITC_FW_FROM_HOST_SLOTS);

    if (at < 0)
        return 0;
    *len = hal->from_host[at].len;
    if (*len)
        memcpy(buf, hal->from_host[at].bytes, *len);
    return 1;
}

int hal_recv_pending(const struct itc_hal *hal)
{
    return hal->from_host_q.count > 0;
}

int hal_host_push(struct itc_hal *hal, const uint8_t *msg, uint16_t len)
{
    int at;

    if (len > ITC_FW_MAX_RPMSG_MSG ||
        (at = queue_in(&hal->from_host_q, ITC_FW_FROM_HOST_SLOTS)) < 0)
        return -1;
    hal->from_host[at].len = len;
    if (len)
        memcpy(hal->from_host[at].bytes, msg, len);
    return 0;
}

/* The oldest message's length (copying at most `cap` bytes), or -1. */
int hal_host_pop(struct itc_hal *hal, uint8_t *buf, uint16_t cap)
{
    int at = queue_out(&hal->to_host_q, ITC_FW_TO_HOST_SLOTS);
    uint16_t len;

    if (at < 0)
        return -1;
    len = hal->to_host[at].len;
    if (len)
        memcpy(buf, hal->to_host[at].bytes, len < cap ? len : cap);
    return len;
}
