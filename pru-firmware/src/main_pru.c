/*
 * main_pru.c - the PRU entry point: one firmware instance in static memory,
 * stepped once per bit time. Built by `make pru`; `make pru-check` compiles
 * it with the host compiler against declarations of the support package.
 *
 * The bit time is set by the loop's cycle count: at 200 MHz, 80 cycles per
 * step give 2.5 Mbit/s. The loop waits on the cycle counter so that the
 * variable cost of a step (a delimiter, a CRC byte, an rpmsg call) does not
 * change the bit rate.
 */
#include <pru_ctrl.h>

#include "fw.h"

#if !defined(ITC_PRU) || (ITC_PRU != 0 && ITC_PRU != 1)
#error "ITC_PRU must be defined as 0 or 1"
#endif
#define CYCLES_PER_BIT 80u

/* Each PRU's cycle counter is in its own control registers. */
#if ITC_PRU == 0
#define OWN_CTRL PRU0_CTRL
#else
#define OWN_CTRL PRU1_CTRL
#endif

static struct itc_fw fw;

int main(void)
{
    uint32_t next;

    fw_init(&fw, ITC_PRU, 0);
    OWN_CTRL.CTRL_bit.CTR_EN = 1;
    next = OWN_CTRL.CYCLE + CYCLES_PER_BIT;
    for (;;) {
        fw_step(&fw);
        while ((int32_t)(OWN_CTRL.CYCLE - next) < 0)
            ;
        next += CYCLES_PER_BIT;
    }
}
