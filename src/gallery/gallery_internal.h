/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gallery's representation, shared by gallery.c (rows, index, search) and snapshot.c
 * (save and load). Row r's int8 copy is at q + r * dpad (dpad = dim rounded up to 64, zero
 * padded, the block 64-byte aligned), its float original at f + r * dim.
 */
#ifndef CW_GALLERY_INTERNAL_H
#define CW_GALLERY_INTERNAL_H

#include "clearway/gallery.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Rows are indexed by uint32 in the id index (value row + 1; UINT32_MAX marks a removed id). */
#define CW__GALLERY_MAX_ROWS ((size_t)UINT32_MAX - 2)
enum {
    CW__GALLERY_MAX_BATCH = 64, /* queries answered in one pass by the batched search */
    CW__GALLERY_BLOCK = 1024,   /* rows per scan block, and per block of the bounds below */
};

/*
 * Per row the scan needs only the int8 copy, its scale and the id: the quantisation error that
 * the exactness proof needs is kept per block of CW__GALLERY_BLOCK rows (the largest of the
 * block, an upper bound that only grows until compaction recomputes it). A removed row has
 * scale 0 (and its copies wiped), so no score of it reaches a kept set.
 */
struct cw_gallery {
    cw_gallery_config_t cfg;
    size_t dpad;
    pthread_rwlock_t lock; /* searches read, writers write */
    size_t n_rows;         /* slots in use, removed ones included */
    size_t n_live;
    size_t cap;
    int8_t *q;       /* cap x dpad */
    float *f;        /* cap x dim, L2-normalised */
    float *scale;    /* per row: x ~ q * scale; 0 once removed */
    uint64_t *ids;   /* per row */
    float *berr;     /* per block: no row's ||x - q * scale|| is larger (rounded up) */
    uint32_t *index; /* open addressing, slots 0..index_cap) reached by multiply-shift */
    size_t index_cap;
    size_t index_used; /* slots not empty (live + removed marks) */
};

/* Initialise an empty gallery struct (lock, dpad) from cfg; CW_EINVAL on a bad config. */
int cw__gallery_init(cw_gallery_t *g, const cw_gallery_config_t *cfg);
/* Wipe and free the row arrays (not the index or the lock). */
void cw__gallery_free_rows(cw_gallery_t *g);
/* L2-normalise v into out; CW_EINVAL for NaN/Inf or a zero vector. */
int cw__gallery_normalise(const float *v, uint32_t dim, float *out);
/* The int8 copy of a unit vector: per-vector scale and error norm (rounded up). */
void cw__gallery_quantise(const float *x, uint32_t dim, size_t dpad, int8_t *q, float *scale,
                          float *err);

/*
 * The GPD fitter on its own (decide.c), for the calibration tool and the tests: excess[0..k)
 * ascending, all > 0 and finite, not all equal. method: 0 = automatic (maximum likelihood; if it
 * has no interior maximum, probability-weighted moments; if their upper end point falls short
 * of the largest excess, the exponential), 1 = maximum likelihood only, 2 = probability-weighted
 * moments only. Returns the method used (1 MLE, 2 PWM, 3 exponential) or a negative CW_E* code
 * (CW_EINVAL: bad input, or the method asked for has no fit).
 */
int cw__gallery_gpd_fit(const double *excess, size_t k, int method, double *xi, double *sigma);

#endif
