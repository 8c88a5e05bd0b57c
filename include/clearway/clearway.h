/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Clearway's umbrella header: include this to get the whole public API. Each module also has
 * its own header; see the README's source map for the reading order.
 */
#ifndef CLEARWAY_H
#define CLEARWAY_H

#include "clearway/version.h"
#include "clearway/err.h"
#include "clearway/alloc.h"
#include "clearway/log.h"
#include "clearway/cpu.h"
#include "clearway/thread.h"
#include "clearway/image.h"
#include "clearway/nn.h"
#include "clearway/face.h"
#include "clearway/gallery.h"
#include "clearway/store.h"
#include "clearway/finger.h"

#endif
