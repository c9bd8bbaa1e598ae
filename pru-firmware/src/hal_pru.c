/*
 * hal_pru.c - the HAL on the PRU: pins are the R30 (out) and R31 (in)
 * registers, host messages go through the PRU support package's rpmsg
 * transport. Built by `make pru` (pru-gcc or TI clpru); `make pru-check`
 * compiles it with the host compiler against declarations of the support
 * package (tests/ssp-stub/) to catch type and signature errors.
 */
#include <pru_intc.h>
#include <rsc_types.h>

#include "hal.h"

#if !defined(ITC_PRU) || (ITC_PRU != 0 && ITC_PRU != 1)
#error "ITC_PRU must be defined as 0 or 1"
#endif

/* The pin registers. */
#if defined(ITC_PRU_HOST_CHECK)
/* make pru-check: plain variables stand in for the registers. */
static volatile uint32_t __R30;
static volatile uint32_t __R31;
#elif defined(__TI_COMPILER_VERSION__)
volatile register uint32_t __R30;
volatile register uint32_t __R31;
#else
/* pru-gcc (GCC 12 and later) */
extern volatile __regio_symbol uint32_t __R30;
extern volatile __regio_symbol uint32_t __R31;
#endif

/*
 * rpmsg kicks through the PRU-ICSS INTC, one pair of system events per
 * PRU. Each event has its own channel, and channel n drives host interrupt
 * n: hosts 0 and 1 are R31 bits 30 and 31 of the PRUs, hosts 2..9 go to
 * the ARM. The resource table (resource_table.h) asks the kernel for this
 * mapping; the device tree's pru nodes name the same events.
 */
#if ITC_PRU == 0
#define TO_ARM_HOST 16     /* PRU0 to ARM: vring kick */
#define FROM_ARM_HOST 17   /* ARM to PRU0: message waiting */
#define TO_ARM_CHANNEL 2   /* to the ARM through host interrupt 2 */
#define FROM_ARM_CHANNEL 0 /* to PRU0 through host interrupt 0 */
#else
#define TO_ARM_HOST 18
#define FROM_ARM_HOST 19
#define TO_ARM_CHANNEL 3
#define FROM_ARM_CHANNEL 1
#endif
/* Host-to-PRU kick: the R31 bit of host interrupt FROM_ARM_CHANNEL. */
#define HOST_INT ((uint32_t)1 << (30 + FROM_ARM_CHANNEL))
#define CHAN_NAME "rpmsg-pru"
#define CHAN_DESC "T2 intertile links"
#ifndef CHAN_PORT
#define CHAN_PORT 30 /* 31 on PRU1: /dev/rpmsg_pru30, /dev/rpmsg_pru31 */
#endif
#define VIRTIO_CONFIG_S_DRIVER_OK 4

/* The resource table: the rpmsg vdev, its two vrings, the INTC mapping as
 * the TI 4.x kernels read it; and the same PRU-bound mapping as 5.10+
 * kernels read it, from .pru_irq_map. */
#include "resource_table.h"
#include "pru_irq_map.h"

void hal_init(struct itc_hal *hal)
{
    /* The resource table's vdev status says when Linux is ready. */
    volatile uint8_t *status = &resourceTable.rpmsg_vdev.status;

    while (!(*status & VIRTIO_CONFIG_S_DRIVER_OK))
        ;
    pru_rpmsg_init(&hal->transport, &resourceTable.rpmsg_vring0,
                   &resourceTable.rpmsg_vring1, TO_ARM_HOST, FROM_ARM_HOST);
    while (pru_rpmsg_channel(RPMSG_NS_CREATE, &hal->transport, CHAN_NAME, CHAN_DESC,
                             CHAN_PORT) != PRU_RPMSG_SUCCESS)
        ;
    hal->have_src = 0;
    hal->draining = 0;
}

uint32_t hal_read_pins(struct itc_hal *hal)
{
    (void)hal;
    return __R31;
}

void hal_write_pins(struct itc_hal *hal, uint32_t r30)
{
    (void)hal;
    /* Only the link pins belong to the firmware. */
    __R30 = (__R30 & ~ITC_FW_PIN_OUT_MASK) | (r30 & ITC_FW_PIN_OUT_MASK);
}

int hal_send(struct itc_hal *hal, const uint8_t *msg, uint16_t len)
{
    if (!hal->have_src)
        return -1;
    return pru_rpmsg_send(&hal->transport, hal->dst, hal->src, (void *)msg, len) ==
                   PRU_RPMSG_SUCCESS
               ? 0
               : -1;
}

/*
 * `buf` holds ITC_FW_MAX_RPMSG_MSG bytes: pru_rpmsg_receive copies the
 * whole message, as long as the host made it (up to that), before anyone
 * can look at its length.
 *
 * The kick (the host interrupt bit in R31) is cleared before the queue is
 * read, then the queue is drained, one message per call, until a receive
 * finds nothing. A host write after the clear sets the kick again; one
 * before it is found by the draining. Clearing only after an empty receive
 * would lose a write that lands between the two.
 */
int hal_recv(struct itc_hal *hal, uint8_t *buf, uint16_t *len)
{
    if (__R31 & HOST_INT) {
        CT_INTC.SICR_bit.STS_CLR_IDX = FROM_ARM_HOST;
        hal->draining = 1;
    }
    if (!hal->draining)
        return 0;
    if (pru_rpmsg_receive(&hal->transport, &hal->src, &hal->dst, buf, len) !=
        PRU_RPMSG_SUCCESS) {
        hal->draining = 0;
        return 0;
    }
    hal->have_src = 1;
    return 1;
}

int hal_recv_pending(const struct itc_hal *hal)
{
    return hal->draining || (__R31 & HOST_INT) != 0;
}
