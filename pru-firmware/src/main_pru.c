/*
 * main_pru.c - the PRU entry point: one firmware instance in static memory,
 * stepped once per bit time. Built only by `make pru`.
 *
 * The bit time is set by the loop's cycle count: at 200 MHz, 80 cycles per
 * step give 2.5 Mbit/s. The loop waits on the cycle counter so that the
 * variable cost of a step (a delimiter, a CRC byte, an rpmsg call) does not
 * change the bit rate.
 */
#include <pru_ctrl.h>

#include "fw.h"

#ifndef ITC_PRU
#define ITC_PRU 0
#endif
#define CYCLES_PER_BIT 80u

static struct itc_fw fw;

int main(void)
{
    uint32_t next;

    fw_init(&fw, ITC_PRU, 0);
    PRU0_CTRL.CTRL_bit.CTR_EN = 1;
    next = PRU0_CTRL.CYCLE + CYCLES_PER_BIT;
    for (;;) {
        fw_step(&fw);
        while ((int32_t)(PRU0_CTRL.CYCLE - next) < 0)
            ;
        next += CYCLES_PER_BIT;
    }
}
