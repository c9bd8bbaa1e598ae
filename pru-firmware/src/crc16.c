/*
 * crc16.c - CRC-16/X-25, the HDLC frame check sequence: polynomial 0x1021
 * processed LSB first (hence the reflected 0x8408), register preset to all
 * ones, result complemented. Bitwise rather than table-driven: 512 bytes of
 * table are dear in PRU data RAM, and 8 shifts per byte are cheap next to
 * the ~10 bit times a byte spends on the wire.
 */
#include "itc_fw.h"

uint16_t itc_fw_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = ITC_FW_CRC_INIT;
    size_t i;
    int bit;

    for (i = 0; i < len; i++) {
        crc ^= data[i];
        for (bit = 0; bit < 8; bit++) {
            if (crc & 1u)
                crc = (uint16_t)((crc >> 1) ^ ITC_FW_CRC_POLY);
            else
                crc = (uint16_t)(crc >> 1);
        }
    }
    return (uint16_t)(crc ^ ITC_FW_CRC_XOROUT);
}
