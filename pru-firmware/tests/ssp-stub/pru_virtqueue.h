/*
 * pru_virtqueue.h (check-build stand-in) - one virtqueue of the PRU side of
 * rpmsg: the type, embedded twice in the rpmsg transport, and the calls
 * the firmware's HAL makes to move one vring buffer at a time (take an
 * available buffer, hand it back used, kick the ARM), with the support
 * package's documented signatures and return codes. The vring's own
 * structures (pru_virtio_ring.h in the package) stay incomplete here: the
 * firmware never looks inside them.
 */
#ifndef SSP_STUB_PRU_VIRTQUEUE_H
#define SSP_STUB_PRU_VIRTQUEUE_H

#include <stdint.h>

#include <rsc_types.h>

/* Return codes. */
#define PRU_VIRTQUEUE_NO_KICK 1 /* kick: the ARM asked for no interrupt */
#define PRU_VIRTQUEUE_SUCCESS 0
#define PRU_VIRTQUEUE_NO_BUF_AVAILABLE -1
#define PRU_VIRTQUEUE_INVALID_HEAD -2

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

void pru_virtqueue_init(struct pru_virtqueue *vq, struct fw_rsc_vdev_vring *vring,
                        uint32_t to_arm_event, uint32_t from_arm_event);

/* The next buffer the ARM made available: its descriptor index (the
 * "head"), with `*buf` its address and `*len` its length; or
 * PRU_VIRTQUEUE_NO_BUF_AVAILABLE. */
int16_t pru_virtqueue_get_avail_buf(struct pru_virtqueue *vq, void **buf, uint32_t *len);

/* Puts buffer `head` on the used ring, `len` bytes used;
 * PRU_VIRTQUEUE_INVALID_HEAD if `head` is no descriptor. */
int16_t pru_virtqueue_add_used_buf(struct pru_virtqueue *vq, int16_t head, uint32_t len);

/* Signals the ARM (its to-ARM system event), unless it asked not to be. */
int16_t pru_virtqueue_kick(struct pru_virtqueue *vq);

#endif /* SSP_STUB_PRU_VIRTQUEUE_H */
