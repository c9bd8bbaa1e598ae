/*
 * resource_table.h - the remoteproc resource table of the PRU build: what
 * the Linux remoteproc/pru_rproc driver reads from the firmware's
 * `.resource_table` section before it starts the PRU.
 *
 * Two entries:
 *   - an rpmsg virtio device (virtio id 7) announcing its channel through
 *     the name service, with two vrings of 16 buffers, placed by the host;
 *   - the PRU INTC mapping as the TI 4.x kernels' vendor resource
 *     (type 5, sub-type 1, version 0), so the rpmsg kicks are routed:
 *     TO_ARM_HOST on TO_ARM_CHANNEL to the ARM, FROM_ARM_HOST on
 *     FROM_ARM_CHANNEL to this PRU's R31 host interrupt bit.
 *     Kernels with the upstream pru_rproc driver (5.10 and later) skip
 *     this entry and take the mapping from the `.pru_irq_map` section
 *     (pru_irq_map.h) and the device tree instead.
 *
 * The kernel reads the table as packed little-endian structs with 32-bit
 * fields and 32-bit PRU addresses; every member here falls on its natural
 * boundary, and the assertions at the end pin each offset.
 *
 * Included by hal_pru.c only, after it defines TO_ARM_HOST, FROM_ARM_HOST,
 * TO_ARM_CHANNEL and FROM_ARM_CHANNEL for its PRU: this header defines the
 * table itself, so exactly one source file may include it.
 */
#ifndef ITC_RESOURCE_TABLE_H
#define ITC_RESOURCE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <rsc_types.h>

#if !defined(TO_ARM_HOST) || !defined(FROM_ARM_HOST) || !defined(TO_ARM_CHANNEL) || \
    !defined(FROM_ARM_CHANNEL)
#error "define the PRU's rpmsg system events and INTC channels before resource_table.h"
#endif

/* Resource table format version (the only one the kernel knows). */
#define ITC_RSC_VERSION 1
/* Entries in the table. */
#define ITC_RSC_ENTRIES 2
/* Entry types. */
#define ITC_RSC_TYPE_VDEV 3
#define ITC_RSC_TYPE_POSTLOAD_VENDOR 5 /* TI kernels: handled after loading */
/* Vendor sub-type word: bits 15..0 the resource, bits 31..16 its version. */
#define ITC_RSC_PRU_INTS 1
#define ITC_RSC_PRU_INTS_VER0 (0u << 16)
/* Virtio device id of rpmsg. */
#define ITC_VIRTIO_ID_RPMSG 7
/* rpmsg device feature bit: the remote announces channels (name service). */
#define ITC_VIRTIO_RPMSG_F_NS 0
/* "Any address": the host allocates the vring and writes its address. */
#define ITC_RSC_ADDR_ANY 0xffffffffu
/* Vring alignment in bytes and buffers per vring (a power of two). */
#define ITC_RSC_VRING_ALIGN 16
#define ITC_RSC_VRING_NUM 16
/* PRU INTC: channels (and host interrupts) 0..9; unused channels. */
#define ITC_RSC_INTC_CHANNELS 10
#define ITC_RSC_HOST_UNUSED 0xff

/* One system event routed to an INTC channel. */
struct itc_rsc_evt_chan {
    uint8_t evt;
    uint8_t chan;
};

/*
 * The event map's address as the kernel reads it: a 32-bit PRU data
 * address. On the PRU a pointer is 32 bits; the host check build
 * (make pru-check, 64-bit pointers) stores a placeholder of the same size
 * so the layout it asserts is the PRU's.
 */
#ifdef ITC_PRU_HOST_CHECK
typedef uint32_t itc_rsc_evt_map_addr;
#define ITC_RSC_EVT_MAP_ADDR(map) 0u
#else
typedef const struct itc_rsc_evt_chan *itc_rsc_evt_map_addr;
#define ITC_RSC_EVT_MAP_ADDR(map) (map)
#endif

/* The INTC vendor resource, header and version 0 body in one struct. */
struct itc_rsc_pru_intc {
    uint32_t type;     /* ITC_RSC_TYPE_POSTLOAD_VENDOR */
    uint32_t sub_type; /* ITC_RSC_PRU_INTS | ITC_RSC_PRU_INTS_VER0 */
    uint32_t size;     /* bytes from `version` to the end */
    uint16_t version;  /* 0 in the version 0 body */
    uint8_t channel_host[ITC_RSC_INTC_CHANNELS]; /* host interrupt per channel */
    uint32_t num_evts;                           /* entries of the event map */
    itc_rsc_evt_map_addr evt_map;                /* event map's PRU address */
};

struct itc_resource_table {
    /* Header. */
    uint32_t ver;
    uint32_t num;
    uint32_t reserved[2];
    uint32_t offset[ITC_RSC_ENTRIES]; /* of each entry, from the table's start */
    /* Entry 0: the rpmsg device, its vrings directly after it. */
    struct fw_rsc_vdev rpmsg_vdev;
    struct fw_rsc_vdev_vring rpmsg_vring0; /* PRU to ARM */
    struct fw_rsc_vdev_vring rpmsg_vring1; /* ARM to PRU */
    /* Entry 1: the INTC mapping. */
    struct itc_rsc_pru_intc pru_intc;
};

/* Events to channels; the kernel reads it from the loaded image. */
const struct itc_rsc_evt_chan itc_rsc_evt_map[2] = {
    {TO_ARM_HOST, TO_ARM_CHANNEL},
    {FROM_ARM_HOST, FROM_ARM_CHANNEL},
};

/* Each used channel drives the host interrupt of the same number. */
#define ITC_RSC_CHANNEL_HOST(ch)                                            \
    ((ch) == TO_ARM_CHANNEL || (ch) == FROM_ARM_CHANNEL ? (ch) : ITC_RSC_HOST_UNUSED)

#if defined(__TI_COMPILER_VERSION__)
#pragma DATA_SECTION(resourceTable, ".resource_table")
#pragma RETAIN(resourceTable)
#define ITC_RSC_SECTION
#else
#define ITC_RSC_SECTION __attribute__((section(".resource_table"), used))
#endif

struct itc_resource_table resourceTable ITC_RSC_SECTION = {
    .ver = ITC_RSC_VERSION,
    .num = ITC_RSC_ENTRIES,
    .reserved = {0, 0},
    .offset =
        {
            offsetof(struct itc_resource_table, rpmsg_vdev),
            offsetof(struct itc_resource_table, pru_intc),
        },
    .rpmsg_vdev =
        {
            .type = ITC_RSC_TYPE_VDEV,
            .id = ITC_VIRTIO_ID_RPMSG,
            .notifyid = 0, /* the host assigns it */
            .dfeatures = 1u << ITC_VIRTIO_RPMSG_F_NS,
            .gfeatures = 0, /* the host writes what it accepted */
            .config_len = 0,
            .status = 0, /* the host sets DRIVER_OK when ready */
            .num_of_vrings = 2,
        },
    .rpmsg_vring0 =
        {
            .da = ITC_RSC_ADDR_ANY,
            .align = ITC_RSC_VRING_ALIGN,
            .num = ITC_RSC_VRING_NUM,
            .notifyid = 0,
        },
    .rpmsg_vring1 =
        {
            .da = ITC_RSC_ADDR_ANY,
            .align = ITC_RSC_VRING_ALIGN,
            .num = ITC_RSC_VRING_NUM,
            .notifyid = 0,
        },
    .pru_intc =
        {
            .type = ITC_RSC_TYPE_POSTLOAD_VENDOR,
            .sub_type = ITC_RSC_PRU_INTS | ITC_RSC_PRU_INTS_VER0,
            .size = sizeof(struct itc_rsc_pru_intc) - offsetof(struct itc_rsc_pru_intc, version),
            .version = 0,
            .channel_host =
                {
                    ITC_RSC_CHANNEL_HOST(0),
                    ITC_RSC_CHANNEL_HOST(1),
                    ITC_RSC_CHANNEL_HOST(2),
                    ITC_RSC_CHANNEL_HOST(3),
                    ITC_RSC_CHANNEL_HOST(4),
                    ITC_RSC_CHANNEL_HOST(5),
                    ITC_RSC_CHANNEL_HOST(6),
                    ITC_RSC_CHANNEL_HOST(7),
                    ITC_RSC_CHANNEL_HOST(8),
                    ITC_RSC_CHANNEL_HOST(9),
                },
            .num_evts = sizeof(itc_rsc_evt_map) / sizeof(itc_rsc_evt_map[0]),
            .evt_map = ITC_RSC_EVT_MAP_ADDR(itc_rsc_evt_map),
        },
};

/* --- Layout checks ------------------------------------------------------ */

/* A compile-time assertion that any C99 compiler (pru-gcc, clpru, the host
 * check build) understands: a negative array size fails the build. */
#define ITC_RSC_ASSERT(name, cond) typedef char itc_rsc_assert_##name[(cond) ? 1 : -1]

/* The entry types as the kernel defines them. */
ITC_RSC_ASSERT(vring_size, sizeof(struct fw_rsc_vdev_vring) == 20);
ITC_RSC_ASSERT(vdev_size, sizeof(struct fw_rsc_vdev) == 28);
ITC_RSC_ASSERT(vdev_status, offsetof(struct fw_rsc_vdev, status) == 24);
ITC_RSC_ASSERT(evt_chan_size, sizeof(struct itc_rsc_evt_chan) == 2);
/* The INTC entry: 12-byte vendor header, then the version 0 body of
 * 2 + 10 + 4 + 4 bytes. */
ITC_RSC_ASSERT(intc_version, offsetof(struct itc_rsc_pru_intc, version) == 12);
ITC_RSC_ASSERT(intc_channel_host, offsetof(struct itc_rsc_pru_intc, channel_host) == 14);
ITC_RSC_ASSERT(intc_num_evts, offsetof(struct itc_rsc_pru_intc, num_evts) == 24);
ITC_RSC_ASSERT(intc_evt_map, offsetof(struct itc_rsc_pru_intc, evt_map) == 28);
ITC_RSC_ASSERT(intc_size, sizeof(struct itc_rsc_pru_intc) == 32);
ITC_RSC_ASSERT(intc_map_addr_32bit, sizeof(itc_rsc_evt_map_addr) == 4);
/* The table: 16-byte header and two offsets, the vdev with its vrings
 * directly after it, then the INTC entry, nothing in between. */
ITC_RSC_ASSERT(offsets, offsetof(struct itc_resource_table, offset) == 16);
ITC_RSC_ASSERT(vdev_at, offsetof(struct itc_resource_table, rpmsg_vdev) == 24);
ITC_RSC_ASSERT(vring0_at, offsetof(struct itc_resource_table, rpmsg_vring0) == 24 + 28);
ITC_RSC_ASSERT(vring1_at, offsetof(struct itc_resource_table, rpmsg_vring1) == 52 + 20);
ITC_RSC_ASSERT(intc_at, offsetof(struct itc_resource_table, pru_intc) == 72 + 20);
ITC_RSC_ASSERT(table_size, sizeof(struct itc_resource_table) == 92 + 32);
ITC_RSC_ASSERT(vring_num_pow2, (ITC_RSC_VRING_NUM & (ITC_RSC_VRING_NUM - 1)) == 0);
/* Host interrupts 0 and 1 are the PRUs' own (R31 bits 30 and 31); 2..9 go
 * to the ARM. */
ITC_RSC_ASSERT(from_arm_to_pru, FROM_ARM_CHANNEL <= 1);
ITC_RSC_ASSERT(to_arm_to_arm, TO_ARM_CHANNEL >= 2 && TO_ARM_CHANNEL < ITC_RSC_INTC_CHANNELS);

#endif /* ITC_RESOURCE_TABLE_H */
