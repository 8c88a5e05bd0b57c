// SPDX-License-Identifier: Apache-2.0
// The cylinder comparison built with the POPCNT instruction (-mpopcnt): the same C as ref.c.
#include "kernel_body.h"

const cw__finger_kernels_t cw__finger_kernels_popcnt = {"popcnt", cyl_row};
