/*
 * hal.h - what the firmware needs from the hardware: the pin registers and
 * one-message-at-a-time exchange with the host. The PRU build maps these to
 * __R30/__R31 and the PRU support package's virtqueues, copying a message
 * a chunk per step (hal_pru.c); the host build to plain variables and two
 * small message queues, whole messages at once (hal_host.c).
 */
#ifndef ITC_HAL_H
#define ITC_HAL_H

#include <stdint.h>

#include "itc_fw.h"

#ifdef ITC_FW_TARGET_PRU
#include <pru_rpmsg.h>

/* Bytes of a message the PRU HAL copies to or from a vring buffer (in the
 * ARM's DDR) per call, the rpmsg header included: README.md, "The step
 * budget". */
#define HAL_COPY_CHUNK 16

/* One message crossing a vring buffer, a bounded piece of work per call:
 * take a buffer (pru_virtqueue_get_avail_buf), the 16-byte rpmsg header,
 * the message HAL_COPY_CHUNK bytes at a time, then hand the buffer back
 * (pru_virtqueue_add_used_buf and pru_virtqueue_kick). */
struct itc_hal_xfer {
    uint8_t state;  /* enum in hal_pru.c; 0: none under way */
    int16_t head;   /* the vring descriptor taken */
    uint32_t size;  /* its buffer's length */
    uint8_t *vbuf;  /* the buffer, rpmsg header first */
    const uint8_t *msg; /* send: the message, where it lies in data RAM */
    uint16_t len;   /* the message's length */
    uint16_t done;  /* bytes of it copied so far */
};

struct itc_hal {
    struct pru_rpmsg_transport transport;
    uint16_t src;     /* the host's rpmsg address, learnt from its messages */
    uint16_t dst;     /* our channel's address */
    uint8_t have_src; /* nothing can be sent before the host wrote once */
    uint8_t draining; /* kick cleared, queue not yet found empty */
    struct itc_hal_xfer send; /* to the ARM (vring0) */
    struct itc_hal_xfer recv; /* from the ARM (vring1) */
};
#else
/* One message slot of the host build's queue to the host: a message, or
 * a batch of them once batching is on (so as long as rpmsg allows). */
struct itc_hal_msg {
    uint16_t len;
    uint8_t closed; /* a lone message: nothing is added to it */
    uint8_t bytes[ITC_FW_MAX_RPMSG_MSG];
};

/* One message slot of the queue from the host: as long as rpmsg allows. */
struct itc_hal_rpmsg {
    uint16_t len;
    uint8_t bytes[ITC_FW_MAX_RPMSG_MSG];
};

/* A fixed ring of message slots. */
struct itc_hal_queue {
    uint8_t head;
    uint8_t count;
};

struct itc_hal {
    uint32_t r30;
    uint32_t r31;
    struct itc_hal_queue to_host_q;
    struct itc_hal_msg to_host[ITC_FW_TO_HOST_SLOTS];
    struct itc_hal_queue from_host_q;
    struct itc_hal_rpmsg from_host[ITC_FW_FROM_HOST_SLOTS];
    /* For the tests (tests/test_fw.c): messages sent to the host, and how
     * many of them a step sent before it had driven the pins. */
    uint32_t sends;
    uint32_t sends_before_pins;
    uint8_t pins_driven; /* since the step read the pins */
    /* Messages to the host go as items of batched messages: each joins
     * the newest slot the host has not taken while it fits. */
    uint8_t batched;
};

/* Used by the host API to feed and drain the queues. */
int hal_host_push(struct itc_hal *hal, const uint8_t *msg, uint16_t len);
int hal_host_pop(struct itc_hal *hal, uint8_t *buf, uint16_t cap);
#endif

void hal_init(struct itc_hal *hal);
/* Messages to the host from now on batched (nonzero) or one per message.
 * Only the host build batches; the PRU build never agrees to it. */
void hal_set_batched(struct itc_hal *hal, int on);
uint32_t hal_read_pins(struct itc_hal *hal);
void hal_write_pins(struct itc_hal *hal, uint32_t r30);

/* What a send did. */
#define HAL_SENT 0     /* the host has the message: its bytes are free */
#define HAL_SENDING 1  /* under way: the bytes must stay as they are */
#define HAL_NO_ROOM -1 /* not sent, and never will be: the caller counts it */

/*
 * Sending to the host, one message at a time. hal_send starts sending the
 * `len` bytes at `msg` and does a bounded amount of it. HAL_SENDING means
 * the message is under way: until hal_send_more or hal_send_now returns
 * HAL_SENT or HAL_NO_ROOM, the bytes at `msg` must not change and no other
 * send may start. The host build sends whole messages (HAL_SENT or
 * HAL_NO_ROOM, never HAL_SENDING); the PRU build returns HAL_SENDING for
 * every message it can carry, and a message that finds no free buffer
 * waits under way until the host returns one.
 */
int hal_send(struct itc_hal *hal, const uint8_t *msg, uint16_t len);
/* Moves the send under way on by a bounded amount: HAL_SENDING until it
 * is done, then HAL_SENT. */
int hal_send_more(struct itc_hal *hal);
/* Finishes the send under way in this one call (a long step): HAL_SENT,
 * or HAL_NO_ROOM if it has no buffer yet (it is given up). */
int hal_send_now(struct itc_hal *hal);
/*
 * Receiving from the host. 1 and the whole message in `buf` (`*len` its
 * length) when a message from the host is complete; 0 if there is none,
 * or one is still being copied (the PRU build copies a bounded amount per
 * call, so `buf` must be the same buffer, untouched by anyone else, in
 * every call until one returns 1). `buf` holds ITC_FW_MAX_RPMSG_MSG bytes;
 * a message longer than that (which rpmsg cannot carry) is not copied at
 * all but still returned, with its length. The caller applies the length
 * rule: a message longer than ITC_FW_MAX_PACKET is not a packet.
 */
int hal_recv(struct itc_hal *hal, uint8_t *buf, uint16_t *len);
/* Nonzero if hal_recv has a message under way or waiting. */
int hal_recv_pending(const struct itc_hal *hal);

#endif /* ITC_HAL_H */
