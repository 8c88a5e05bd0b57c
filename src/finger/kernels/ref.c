// SPDX-License-Identifier: Apache-2.0
// The scalar reference of the cylinder comparison: built for the baseline instruction set.
#include "kernel_body.h"

const cw__finger_kernels_t cw__finger_kernels_ref = {"scalar", cyl_row};
