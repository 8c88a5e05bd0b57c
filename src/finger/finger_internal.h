/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the files of the finger module: resampling to 500 dpi, angle conversions
 * between ISO units and radians, and the small helpers extraction and synthesis share (the
 * oriented Gabor kernel bank). Not a public interface.
 */
#ifndef CLEARWAY_FINGER_INTERNAL_H
#define CLEARWAY_FINGER_INTERNAL_H

#include "clearway/finger.h"

#include <math.h>
#include <stdint.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Resample img in place from dpi to 500 dpi (no-op within 2%). 0, CW_ETOOBIG or CW_ENOMEM. */
int cw__finger_to_500dpi(cw_image_t *img, int dpi);

/*
 * ISO angle units (256 per turn, counter-clockwise as a person sees the image, y down) to and
 * from radians in image coordinates (atan2(dy, dx) with y pointing down).
 */
static inline uint8_t cw__finger_angle_to_iso(double theta)
{
    double t = fmod(-theta, 2.0 * M_PI);
    if (t < 0) {
        t += 2.0 * M_PI;
    }
    return (uint8_t)((int)lround(t * 256.0 / (2.0 * M_PI)) & 255);
}

static inline double cw__finger_iso_to_angle(uint8_t a)
{
    return -(double)a * (2.0 * M_PI / 256.0);
}

/*
 * The oriented Gabor bank: GABOR_NORI orientations (ridge direction theta = k * pi / NORI) by
 * GABOR_NPER periods (GABOR_PMIN + j pixels), each a (2 * GABOR_R + 1)^2 zero-mean kernel.
 * Built once per process (thread-safe); returns NULL only if memory is short.
 */
enum { GABOR_NORI = 16, GABOR_PMIN = 4, GABOR_NPER = 13, GABOR_R = 6, GABOR_K = 2 * GABOR_R + 1 };
const float *cw__finger_gabor_bank(void);
static inline const float *cw__finger_gabor_kernel(const float *bank, int ori, int per)
{
    return bank + ((size_t)ori * GABOR_NPER + (size_t)per) * GABOR_K * GABOR_K;
}

#endif
