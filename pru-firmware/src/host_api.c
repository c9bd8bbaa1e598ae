/*
 * host_api.c - the firmware as a host library (itc_fw.h): allocation, the
 * step, pins and message queues for a test or a simulator.
 */
#include <stdlib.h>

#include "fw.h"

struct itc_fw *itc_fw_new(unsigned pru, const struct itc_fw_config *cfg)
{
    struct itc_fw *fw;

    if (pru > 1)
        return NULL;
    fw = malloc(sizeof(*fw));
    if (!fw)
        return NULL;
    fw_init(fw, pru, cfg);
    return fw;
}

void itc_fw_free(struct itc_fw *fw)
{
    free(fw);
}

void itc_fw_step(struct itc_fw *fw)
{
    fw_step(fw);
}

void itc_fw_set_inputs(struct itc_fw *fw, uint32_t r31)
{
    fw->hal.r31 = r31;
}

uint32_t itc_fw_outputs(const struct itc_fw *fw)
{
    return fw->hal.r30;
}

int itc_fw_push_host(struct itc_fw *fw, const uint8_t *msg, size_t len)
{
    if (len > ITC_FW_MAX_RPMSG_MSG)
        return -1;
    return hal_host_push(&fw->hal, msg, (uint16_t)len);
}

int itc_fw_pop_host(struct itc_fw *fw, uint8_t *buf, size_t cap)
{
    uint16_t c = cap > ITC_FW_MAX_RPMSG_MSG ? ITC_FW_MAX_RPMSG_MSG : (uint16_t)cap;

    return hal_host_pop(&fw->hal, buf, c);
}

unsigned itc_fw_host_pending(const struct itc_fw *fw)
{
    return fw->hal.to_host_q.count;
}

int itc_fw_quiescent(const struct itc_fw *fw)
{
    return fw_quiescent(fw) && fw->hal.to_host_q.count == 0;
}

void itc_fw_advance_idle(struct itc_fw *fw, uint32_t bits)
{
    fw_advance_idle(fw, bits);
}

void itc_fw_get_stats(const struct itc_fw *fw, struct itc_fw_stats *out)
{
    *out = fw->stats;
}
