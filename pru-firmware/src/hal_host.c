/*
 * hal_host.c - the HAL of the host build: pins are two words the caller
 * sets and reads between steps, and rpmsg is two fixed queues of message
 * slots (host to firmware, firmware to host), bounded like the rpmsg
 * buffers on the board.
 */
#include <string.h>

#include "hal.h"

void hal_init(struct itc_hal *hal)
{
    memset(hal, 0, sizeof(*hal));
}

uint32_t hal_read_pins(struct itc_hal *hal)
{
    return hal->r31;
}

void hal_write_pins(struct itc_hal *hal, uint32_t r30)
{
    hal->r30 = r30;
}

static int queue_put(struct itc_hal_queue *q, struct itc_hal_msg *slots, unsigned nslots,
                     const uint8_t *msg, uint16_t len)
{
    struct itc_hal_msg *slot;

    if (q->count >= nslots || len > ITC_FW_MAX_HOST_MSG)
        return -1;
    slot = &slots[(q->head + q->count) % nslots];
    slot->len = len;
    if (len)
        memcpy(slot->bytes, msg, len);
    q->count++;
    return 0;
}

/* The oldest message's length (copying at most `cap` bytes), or -1. */
static int queue_take(struct itc_hal_queue *q, struct itc_hal_msg *slots, unsigned nslots,
                      uint8_t *buf, uint16_t cap)
{
    struct itc_hal_msg *slot;
    uint16_t n;

    if (q->count == 0)
        return -1;
    slot = &slots[q->head];
    n = slot->len < cap ? slot->len : cap;
    if (n)
        memcpy(buf, slot->bytes, n);
    q->head = (uint8_t)((q->head + 1u) % nslots);
    q->count--;
    return slot->len;
}

int hal_send(struct itc_hal *hal, const uint8_t *msg, uint16_t len)
{
    return queue_put(&hal->to_host_q, hal->to_host, ITC_FW_TO_HOST_SLOTS, msg, len);
}

int hal_recv(struct itc_hal *hal, uint8_t *buf, uint16_t *len)
{
    int n = queue_take(&hal->from_host_q, hal->from_host, ITC_FW_FROM_HOST_SLOTS, buf,
                       ITC_FW_MAX_PACKET);

    if (n < 0)
        return 0;
    *len = (uint16_t)n;
    return 1;
}

int hal_recv_pending(const struct itc_hal *hal)
{
    return hal->from_host_q.count > 0;
}

int hal_host_push(struct itc_hal *hal, const uint8_t *msg, uint16_t len)
{
    if (len > ITC_FW_MAX_PACKET)
        return -1;
    return queue_put(&hal->from_host_q, hal->from_host, ITC_FW_FROM_HOST_SLOTS, msg, len);
}

int hal_host_pop(struct itc_hal *hal, uint8_t *buf, uint16_t cap)
{
    return queue_take(&hal->to_host_q, hal->to_host, ITC_FW_TO_HOST_SLOTS, buf, cap);
}
