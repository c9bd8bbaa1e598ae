/*
 * pru_intc.h (check-build stand-in) - the PRU-ICSS interrupt controller,
 * reduced to the register the firmware writes: SICR (system event status
 * clear by index) at offset 0x24.
 */
#ifndef SSP_STUB_PRU_INTC_H
#define SSP_STUB_PRU_INTC_H

#include <stdint.h>

typedef struct {
    uint32_t rsvd0[9]; /* 0x00..0x20: REVID .. GNLR, not used */
    union {
        volatile uint32_t SICR;
        volatile struct {
            unsigned STS_CLR_IDX : 10;
            unsigned rsvd10 : 22;
        } SICR_bit;
    };
} pruIntc;

/* The board package places this at the INTC's constant-table entry. */
extern volatile pruIntc CT_INTC;

#endif /* SSP_STUB_PRU_INTC_H */
