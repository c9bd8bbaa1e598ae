/*
 * pru_ctrl.h (check-build stand-in) - each PRU's control registers,
 * reduced to what the firmware uses: CTRL (with the cycle counter enable)
 * at 0x00 and the cycle counter CYCLE at 0x0c.
 */
#ifndef SSP_STUB_PRU_CTRL_H
#define SSP_STUB_PRU_CTRL_H

#include <stdint.h>

typedef struct {
    union {
        volatile uint32_t CTRL;
        volatile struct {
            unsigned SOFT_RST_N : 1;
            unsigned EN : 1;
            unsigned SLEEPING : 1;
            unsigned CTR_EN : 1;
            unsigned rsvd4 : 4;
            unsigned SINGLE_STEP : 1;
            unsigned rsvd9 : 6;
            unsigned RUNSTATE : 1;
            unsigned PCTR_RST_VAL : 16;
        } CTRL_bit;
    };
    volatile uint32_t STS;       /* 0x04 */
    volatile uint32_t WAKEUP_EN; /* 0x08 */
    volatile uint32_t CYCLE;     /* 0x0c */
    volatile uint32_t STALL;     /* 0x10 */
} pruCtrl;

/* The board package places these at the two PRUs' control blocks. */
extern volatile pruCtrl PRU0_CTRL;
extern volatile pruCtrl PRU1_CTRL;

#endif /* SSP_STUB_PRU_CTRL_H */
