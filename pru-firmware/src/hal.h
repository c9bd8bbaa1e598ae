/*
 * hal.h - what the firmware needs from the hardware: the pin registers and
 * one-message-at-a-time exchange with the host. The PRU build maps these to
 * __R30/__R31 and the PRU support package's rpmsg calls; the host build to
 * plain variables and two small message queues.
 */
#ifndef ITC_HAL_H
#define ITC_HAL_H

#include <stdint.h>

#include "itc_fw.h"

#ifdef ITC_FW_TARGET_PRU
#include <pru_rpmsg.h>

struct itc_hal {
    struct pru_rpmsg_transport transport;
    uint16_t src;     /* the host's rpmsg address, learnt from its messages */
    uint16_t dst;     /* our channel's address */
    uint8_t have_src; /* nothing can be sent before the host wrote once */
    uint8_t draining; /* kick cleared, queue not yet found empty */
};
#else
/* One message slot of the host build's queue to the host. */
struct itc_hal_msg {
    uint16_t len;
    uint8_t bytes[ITC_FW_MAX_HOST_MSG];
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
};

/* Used by the host API to feed and drain the queues. */
int hal_host_push(struct itc_hal *hal, const uint8_t *msg, uint16_t len);
int hal_host_pop(struct itc_hal *hal, uint8_t *buf, uint16_t cap);
#endif

void hal_init(struct itc_hal *hal);
uint32_t hal_read_pins(struct itc_hal *hal);
void hal_write_pins(struct itc_hal *hal, uint32_t r30);
/* 0 if the message was handed to the host, -1 if there is no room. */
int hal_send(struct itc_hal *hal, const uint8_t *msg, uint16_t len);
/* 1 and the whole message in `buf`, which must hold ITC_FW_MAX_RPMSG_MSG
 * bytes (`*len` its length, up to that), if the host sent one; 0 if not.
 * The caller applies the length rule: a message longer than
 * ITC_FW_MAX_PACKET is not a packet. */
int hal_recv(struct itc_hal *hal, uint8_t *buf, uint16_t *len);
/* Nonzero if hal_recv would return a message. */
int hal_recv_pending(const struct itc_hal *hal);

#endif /* ITC_HAL_H */
