/*
 * pru_irq_map.h - the PRU-bound interrupt mapping as the upstream
 * pru_rproc driver (Linux 5.10 and later) reads it: a `.pru_irq_map`
 * section holding
 *
 *     u8 type (0), u8 num_evts, then num_evts entries of
 *     { u8 event, u8 channel, u8 host }, packed (3 bytes each).
 *
 * Those kernels ignore the TI vendor INTC resource of resource_table.h
 * (which the TI 4.x kernels read, so it stays). Only the event routed to
 * this PRU belongs here (FROM_ARM_HOST on FROM_ARM_CHANNEL to host
 * interrupt FROM_ARM_CHANNEL, R31 bit 30 + FROM_ARM_CHANNEL); the event
 * to the ARM is configured from the device tree's PRU node.
 *
 * Included by hal_pru.c only, after it defines FROM_ARM_HOST and
 * FROM_ARM_CHANNEL: this header defines the section's contents.
 */
#ifndef ITC_PRU_IRQ_MAP_H
#define ITC_PRU_IRQ_MAP_H

#include <stddef.h>
#include <stdint.h>

#if !defined(FROM_ARM_HOST) || !defined(FROM_ARM_CHANNEL)
#error "define the PRU's host-to-PRU system event and INTC channel before pru_irq_map.h"
#endif

/* The only type the kernel knows. */
#define ITC_IRQ_MAP_TYPE 0
/* Events mapped. */
#define ITC_IRQ_MAP_EVTS 1

/* One system event, its INTC channel and host interrupt. */
struct itc_irq_map_entry {
    uint8_t event;
    uint8_t channel;
    uint8_t host;
};

struct itc_irq_map {
    uint8_t type;
    uint8_t num_evts;
    struct itc_irq_map_entry map[ITC_IRQ_MAP_EVTS];
};

#if defined(__TI_COMPILER_VERSION__)
#pragma DATA_SECTION(itc_pru_irq_map, ".pru_irq_map")
#pragma RETAIN(itc_pru_irq_map)
#define ITC_IRQ_MAP_SECTION
#else
#define ITC_IRQ_MAP_SECTION __attribute__((section(".pru_irq_map"), used))
#endif

const struct itc_irq_map itc_pru_irq_map ITC_IRQ_MAP_SECTION = {
    .type = ITC_IRQ_MAP_TYPE,
    .num_evts = ITC_IRQ_MAP_EVTS,
    .map = {{FROM_ARM_HOST, FROM_ARM_CHANNEL, FROM_ARM_CHANNEL}},
};

/* --- Layout checks (a negative array size fails the build) ------------- */

#define ITC_IRQ_MAP_ASSERT(name, cond) typedef char itc_irq_map_assert_##name[(cond) ? 1 : -1]

ITC_IRQ_MAP_ASSERT(entry_size, sizeof(struct itc_irq_map_entry) == 3);
ITC_IRQ_MAP_ASSERT(entry_event, offsetof(struct itc_irq_map_entry, event) == 0);
ITC_IRQ_MAP_ASSERT(entry_channel, offsetof(struct itc_irq_map_entry, channel) == 1);
ITC_IRQ_MAP_ASSERT(entry_host, offsetof(struct itc_irq_map_entry, host) == 2);
ITC_IRQ_MAP_ASSERT(type_at, offsetof(struct itc_irq_map, type) == 0);
ITC_IRQ_MAP_ASSERT(num_evts_at, offsetof(struct itc_irq_map, num_evts) == 1);
ITC_IRQ_MAP_ASSERT(map_at, offsetof(struct itc_irq_map, map) == 2);
ITC_IRQ_MAP_ASSERT(size, sizeof(struct itc_irq_map) == 2 + 3 * ITC_IRQ_MAP_EVTS);
/* Host interrupts 0 and 1 are the PRUs' own; 2..9 go to the ARM. */
ITC_IRQ_MAP_ASSERT(to_this_pru, FROM_ARM_CHANNEL <= 1);

#endif /* ITC_PRU_IRQ_MAP_H */
