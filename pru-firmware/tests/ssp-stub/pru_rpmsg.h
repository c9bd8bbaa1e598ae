/*
 * pru_rpmsg.h (check-build stand-in) - the PRU side of rpmsg: transport
 * set-up, name-service announcement, one message in or out.
 */
#ifndef SSP_STUB_PRU_RPMSG_H
#define SSP_STUB_PRU_RPMSG_H

#include <stdint.h>

#include <pru_virtqueue.h>
#include <rsc_types.h>

/* Return codes. */
#define PRU_RPMSG_SUCCESS 0
#define PRU_RPMSG_NO_BUF_AVAILABLE -1
#define PRU_RPMSG_BUF_TOO_SMALL -2
#define PRU_RPMSG_INVALID_HEAD -3

/* Name-service announcements. */
enum pru_rpmsg_ns_flags {
    RPMSG_NS_CREATE = 0,
    RPMSG_NS_DESTROY = 1,
};

/* The two virtqueues of one rpmsg device: vring0 PRU to ARM, vring1 ARM
 * to PRU. */
struct pru_rpmsg_transport {
    struct pru_virtqueue virtqueue0;
    struct pru_virtqueue virtqueue1;
};

int16_t pru_rpmsg_init(struct pru_rpmsg_transport *transport, struct fw_rsc_vdev_vring *vring0,
                       struct fw_rsc_vdev_vring *vring1, uint32_t to_arm_event,
                       uint32_t from_arm_event);

int16_t pru_rpmsg_receive(struct pru_rpmsg_transport *transport, uint16_t *src, uint16_t *dst,
                          void *data, uint16_t *len);

int16_t pru_rpmsg_send(struct pru_rpmsg_transport *transport, uint32_t src, uint32_t dst,
                       void *data, uint16_t len);

int16_t pru_rpmsg_channel(enum pru_rpmsg_ns_flags flags, struct pru_rpmsg_transport *transport,
                          char *name, char *desc, int32_t port);

#endif /* SSP_STUB_PRU_RPMSG_H */
