/*
 * rsc_types.h (check-build stand-in) - the remoteproc resource entries the
 * firmware's resource table uses: the virtio device and its vrings, laid
 * out as the Linux remoteproc driver reads them (32-bit little-endian
 * fields, no padding).
 */
#ifndef SSP_STUB_RSC_TYPES_H
#define SSP_STUB_RSC_TYPES_H

#include <stdint.h>

/* One vring of a virtio device; the host fills in `da` and `notifyid`. */
struct fw_rsc_vdev_vring {
    uint32_t da;
    uint32_t align;
    uint32_t num;
    uint32_t notifyid;
    uint32_t reserved;
};

/* A virtio device entry, followed directly by its vrings. */
struct fw_rsc_vdev {
    uint32_t type;
    uint32_t id;
    uint32_t notifyid;
    uint32_t dfeatures;
    uint32_t gfeatures;
    uint32_t config_len;
    uint8_t status;
    uint8_t num_of_vrings;
    uint8_t reserved[2];
    struct fw_rsc_vdev_vring vring[0];
};

#endif /* SSP_STUB_RSC_TYPES_H */
