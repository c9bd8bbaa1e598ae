/*
 * main_pru.c - the PRU entry point: one firmware instance in static memory,
 * stepped every ITC_PRU_CYCLES_PER_STEP cycles. Built by `make pru`;
 * `make pru-check` compiles it with the host compiler against declarations
 * of the support package.
 *
 * Two PRUs on two tiles are not in lockstep, so the transmitter holds each
 * bit for ITC_PRU_TX_STEPS_PER_BIT (3) steps and the receiver, sampling
 * every step, sees every clock edge of a far end running somewhat fast or
 * slow. At 200 MHz, 27 cycles per step and 3 steps per bit give 2.47
 * Mbit/s, if a step fits in 27 cycles (README.md, "Timing on the PRU":
 * probably not; both are build parameters). The loop waits on the cycle
 * counter so that a step's variable cost does not change the bit rate.
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
/* make pru PRU_CYCLES_PER_STEP=... PRU_TX_STEPS_PER_BIT=... */
#ifndef ITC_PRU_CYCLES_PER_STEP
#define ITC_PRU_CYCLES_PER_STEP 27u
#endif
#ifndef ITC_PRU_TX_STEPS_PER_BIT
#define ITC_PRU_TX_STEPS_PER_BIT 3u
#endif
#if ITC_PRU_TX_STEPS_PER_BIT < 2
#error "two free-running PRUs need at least 2 steps per bit (3 to lead the clock with data)"
#endif
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
    struct itc_fw_config cfg;
    uint32_t start, now;

    itc_fw_config_default(&cfg);
    cfg.tx_steps_per_bit = ITC_PRU_TX_STEPS_PER_BIT;
    fw_init(&fw, ITC_PRU, &cfg);
    restart_counter();
    start = 0;
    for (;;) {
        fw_step(&fw);
        /* No wrap to worry about: start < REBASE_AT and the counter runs
         * on from there, so now >= start. */
        while ((now = OWN_CTRL.CYCLE) - start < ITC_PRU_CYCLES_PER_STEP)
            ;
        if (now - start <= ITC_PRU_CYCLES_PER_STEP + ON_TIME_SLACK)
            start += ITC_PRU_CYCLES_PER_STEP; /* on time: keep the exact rate */
        else
            start = now; /* late: a full step from now */
        if (start >= REBASE_AT) {
            restart_counter();
            start = 0;
        }
    }
}
