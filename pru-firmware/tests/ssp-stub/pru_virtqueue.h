/*
 * pru_virtqueue.h (check-build stand-in) - one virtqueue of the PRU side of
 * rpmsg. The firmware never looks inside; it only embeds the transport
 * that holds two of these, so the type must be complete.
 */
#ifndef SSP_STUB_PRU_VIRTQUEUE_H
#define SSP_STUB_PRU_VIRTQUEUE_H

#include <stdint.h>

struct vring_desc;
struct vring_avail;
struct vring_used;

struct vring {
    uint32_t num;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
};

struct pru_virtqueue {
    uint32_t id;
    uint32_t to_arm_event;
    uint32_t from_arm_event;
    uint16_t last_avail_idx;
    struct vring vring;
};

#endif /* SSP_STUB_PRU_VIRTQUEUE_H */
