// SPDX-License-Identifier: Apache-2.0
// Flight-token touchpoints: a flight-token gate stands at one touchpoint (bag drop, security,
// immigration, boarding); each pass is recorded against the traveller's flight-token
// membership and its booking, so the clearance service can check the order of touchpoints for
// the flight in hand. Passes go with the membership (foreign key, ON DELETE CASCADE).
#include "store_internal.h"

#include "clearway/err.h"

#include <stdio.h>
#include <string.h>

static const char *const names[] = {"none", "bag_drop", "security", "immigration", "boarding"};

const char *cw_touchpoint_name(cw_touchpoint_t t)
{
    return t >= CW_TOUCHPOINT_NONE && t <= CW_TOUCHPOINT_BOARDING ? names[t] : "none";
}

cw_touchpoint_t cw_touchpoint_parse(const char *s)
{
    for (int i = CW_TOUCHPOINT_BAG_DROP; s != NULL && i <= CW_TOUCHPOINT_BOARDING; i++) {
        if (strcmp(s, names[i]) == 0) {
            return (cw_touchpoint_t)i;
        }
    }
    return CW_TOUCHPOINT_NONE;
}
