/*
 * main_pru.c - the PRU entry point: one firmware instance in static memory,
 * stepped once per bit time. Built by `make pru`; `make pru-check` compiles
 * it with the host compiler against declarations of the support package.
 *
 * The bit time is set by the loop's cycle count: at 200 MHz, 80 cycles per
 * step give 2.5 Mbit/s. The loop waits on the cycle counter so that the
 * variable cost of a step (a delimiter, a CRC byte, an rpmsg call) does not
 * change the bit rate.
 *
 * The cycle counter (CTRL.CYCLE) does not wrap: at 0xFFFFFFFF (21.5 s at
 * 200 MHz) it stops and clears CTR_EN. So the loop never compares across a
 * wrap: each step is timed from its own start, and once the count passes
 * REBASE_AT (about 10.7 s) the counter is stopped, cleared (a write clears
 * it while it is disabled) and restarted. The cycles between stopping and
 * restarting are lost, lengthening that one step by a few cycles.
 *
 * A step that runs late starts the next from the time it ended, not from
 * when it was due: a burst of short catch-up steps would toggle the
 * transmitters' clocks faster than the far end samples.
 */
#include <pru_ctrl.h>

#include "fw.h"

#if !defined(ITC_PRU) || (ITC_PRU != 0 && ITC_PRU != 1)
#error "ITC_PRU must be defined as 0 or 1"
#endif
#define CYCLES_PER_BIT 80u
/* Restart the counter once it passes this: far below where it stops. */
#define REBASE_AT 0x80000000u
/* A step ending within this many cycles of its due time counts as on
 * time (the wait loop's own iterations). */
#define ON_TIME_SLACK 16u

/* Each PRU's cycle counter is in its own control registers. */
#if ITC_PRU == 0
#define OWN_CTRL PRU0_CTRL
#else
#define OWN_CTRL PRU1_CTRL
#endif

static struct itc_fw fw;

/* Stops, clears and restarts the cycle counter. */
static void restart_counter(void)
{
    OWN_CTRL.CTRL_bit.CTR_EN = 0;
    OWN_CTRL.CYCLE = 0;
    OWN_CTRL.CTRL_bit.CTR_EN = 1;
}

int main(void)
{
    uint32_t start, now;

    fw_init(&fw, ITC_PRU, 0);
    restart_counter();
    start = 0;
    for (;;) {
        fw_step(&fw);
        /* No wrap to worry about: start < REBASE_AT and the counter runs
         * on from there, so now >= start. */
        while ((now = OWN_CTRL.CYCLE) - start < CYCLES_PER_BIT)
            ;
        if (now - start <= CYCLES_PER_BIT + ON_TIME_SLACK)
            start += CYCLES_PER_BIT; /* on time: keep the exact rate */
        else
            start = now; /* late: a full step from now */
        if (start >= REBASE_AT) {
            restart_counter();
            start = 0;
        }
    }
}
