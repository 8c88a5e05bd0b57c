// SPDX-License-Identifier: Apache-2.0
// placeholder
#include "finger_internal.h"
#include "clearway/err.h"
int cw_finger_synth(uint32_t finger, uint32_t impression, const cw_finger_synth_params_t *params,
                    cw_image_t *out)
{
    (void)finger;
    (void)impression;
    (void)params;
    (void)out;
    return CW_EUNSUPPORTED;
}
