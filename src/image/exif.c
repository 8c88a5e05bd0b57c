// SPDX-License-Identifier: Apache-2.0
// A minimal, bounds-checked reader of the one EXIF field the pipeline needs: the Orientation tag
// (0x0112) of IFD0 in the TIFF structure a JPEG's APP1 segment carries, in either byte order.
// EXIF comes from the same untrusted file as the pixels, so every offset is checked against the
// segment length before it is used, and anything unexpected means "no rotation" (1): a wrong
// guess would rotate a face sideways, and an image we cannot orient is still an image.
#include "image_internal.h"

#include <stddef.h>
#include <stdint.h>

#define TAG_ORIENTATION 0x0112
#define TYPE_SHORT 3
#define IFD_ENTRY_BYTES 12

static unsigned get16(const uint8_t *p, int big_endian)
{
    return big_endian ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t get32(const uint8_t *p, int big_endian)
{
    if (big_endian) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int cw__exif_orientation(const uint8_t *tiff, size_t len)
{
    if (tiff == NULL || len < 8) {
        return 1;
    }
    int big_endian;
    if (tiff[0] == 'M' && tiff[1] == 'M') {
        big_endian = 1;
    } else if (tiff[0] == 'I' && tiff[1] == 'I') {
        big_endian = 0;
    } else {
        return 1;
    }
    if (get16(tiff + 2, big_endian) != 42) {
        return 1;
    }
    uint32_t ifd = get32(tiff + 4, big_endian);
    // Subtractions only after the comparisons that keep them from wrapping.
    if (ifd < 8 || ifd > len || len - ifd < 2) {
        return 1;
    }
    unsigned count = get16(tiff + ifd, big_endian);
    size_t room = (len - ifd - 2) / IFD_ENTRY_BYTES;
    if (count > room) {
        return 1; // a directory that runs past the segment is not trusted at all
    }
    const uint8_t *entry = tiff + ifd + 2;
    for (unsigned i = 0; i < count; i++, entry += IFD_ENTRY_BYTES) {
        if (get16(entry, big_endian) != TAG_ORIENTATION) {
            continue;
        }
        if (get16(entry + 2, big_endian) != TYPE_SHORT || get32(entry + 4, big_endian) != 1) {
            return 1;
        }
        // A single SHORT sits in the first two bytes of the value field, in the file's order.
        unsigned v = get16(entry + 8, big_endian);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}
