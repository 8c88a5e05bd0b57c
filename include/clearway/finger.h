/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fingerprints: image input (8-bit grayscale TIFF, PNG, raw buffers with a resolution, all
 * normalised to 500 dpi), minutiae extraction with an image-quality verdict, ISO/IEC
 * 19794-2:2005 minutiae records, and a Minutia Cylinder-Code matcher (bit-vector cylinders,
 * popcount similarity, relaxation-based consolidation) for 1:1 and 1:N comparison. A synthetic
 * fingerprint generator makes test prints, so that tests need no real biometrics.
 *
 * Ownership: cw_finger_template_t is a plain value (no pointers): copy it freely. A prepared
 * template (cw_finger_prepared_t) owns its cylinder buffer: free with cw_finger_prepared_free.
 * Images are cw_image_t (see image.h), freed with cw_image_free. All functions are thread-safe
 * on distinct objects; comparisons only read their templates, so many threads may compare the
 * same prepared templates at once.
 */
#ifndef CLEARWAY_FINGER_H
#define CLEARWAY_FINGER_H

#include "clearway/image.h"
#include "clearway/thread.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    /* Most minutiae a template holds (an ISO finger view counts them in one byte). */
    CW_FINGER_MAX_MINUTIAE = 255,
    /* Working resolution of extraction and matching (pixels per inch). */
    CW_FINGER_DPI = 500,
    /* Caps on input images: a header claiming more is refused before anything is allocated. */
    CW_FINGER_MAX_SIDE = 4096,
    CW_FINGER_MAX_PIXELS = 8 * 1000 * 1000,
    /*
     * Version of the matcher's scores. Thresholds (cw_finger_threshold) are calibrated for
     * this version; a change to extraction or matching that moves scores bumps it.
     */
    CW_FINGER_MATCHER_VERSION = 1,
};

/* ---- image input ---- */

/*
 * cw_finger_tiff_decode: decode an uncompressed 8-bit grayscale baseline TIFF (either byte
 * order, any strip layout, BlackIsZero or WhiteIsZero) from buf[0, len) into *out (1 channel).
 * *dpi receives the resolution from the file (XResolution/ResolutionUnit), or 0 when absent;
 * dpi may be NULL. Returns 0, or CW_EINVAL (bad arguments), CW_EUNSUPPORTED (not a TIFF, or
 * compressed, colour, not 8-bit, tiled), CW_EFORMAT (truncated or inconsistent), CW_ETOOBIG
 * (over CW_FINGER_MAX_SIDE / CW_FINGER_MAX_PIXELS), CW_ENOMEM. On error *out is zeroed.
 * Detail goes to diag. Never crashes, whatever the bytes.
 */
int cw_finger_tiff_decode(const uint8_t *buf, size_t len, cw_image_t *out, int *dpi, char *diag,
                          size_t diag_len);

/*
 * cw_finger_image_load: read a fingerprint image file (TIFF or PNG, sniffed from the bytes; at
 * most 64 MiB) as grayscale and normalise it to 500 dpi. dpi_hint is the sensor resolution to
 * assume when the file states none (0: 500). Returns 0 or an error as for
 * cw_finger_tiff_decode / cw_image_decode, CW_EIO when the file cannot be read.
 */
int cw_finger_image_load(const char *path, int dpi_hint, cw_image_t *out, char *diag,
                         size_t diag_len);

/*
 * cw_finger_image_from_raw: copy a raw 8-bit grayscale buffer (width x height, rows `stride`
 * bytes apart) captured at `dpi` (100..2000) into *out, resampled to 500 dpi. Returns 0,
 * CW_EINVAL (NULL pointers, stride < width, dpi out of range), CW_ETOOBIG, CW_ENOMEM.
 */
int cw_finger_image_from_raw(const uint8_t *pixels, int width, int height, size_t stride, int dpi,
                             cw_image_t *out);

/* ---- templates ---- */

typedef enum cw_minutia_type {
    CW_MINUTIA_OTHER = 0,
    CW_MINUTIA_ENDING = 1,
    CW_MINUTIA_BIFURCATION = 2,
} cw_minutia_type_t;

/*
 * A minutia in the ISO/IEC 19794-2 conventions: pixel coordinates at the template's resolution
 * (origin top left), angle in units of 360/256 degrees counter-clockwise from the x axis (as a
 * person sees the image), quality 0..100.
 */
typedef struct cw_minutia {
    uint16_t x;
    uint16_t y;
    uint8_t angle;
    uint8_t type; /* cw_minutia_type_t */
    uint8_t quality;
} cw_minutia_t;

/* Our compact in-memory template: one finger view. */
typedef struct cw_finger_template {
    uint16_t width; /* image size in pixels */
    uint16_t height;
    uint16_t dpi;    /* resolution (500 after normalisation) */
    uint8_t quality; /* finger image quality 0..100 */
    uint8_t finger;  /* ISO finger position code, 0 = unknown */
    uint16_t n;      /* minutiae in m[] */
    cw_minutia_t m[CW_FINGER_MAX_MINUTIAE];
} cw_finger_template_t;

/* ---- quality ---- */

typedef enum cw_finger_verdict {
    CW_FINGER_OK = 0,
    CW_FINGER_NO_FINGER = 1,    /* blank, saturated or not a fingerprint */
    CW_FINGER_PRESS_FIRMER = 2, /* faint, low-contrast or dry contact */
    CW_FINGER_CLEAN_SENSOR = 3, /* ridges smeared: smudged, wet or dirty platen */
    CW_FINGER_PLACE_CENTRE = 4, /* too little of the finger, or only its edge */
} cw_finger_verdict_t;

/* cw_finger_verdict_text: the instruction for the traveller ("press firmer"). Static string. */
const char *cw_finger_verdict_text(cw_finger_verdict_t v);

typedef struct cw_finger_quality {
    int score; /* 0..100, higher is better (an NFIQ 2-like utility score) */
    cw_finger_verdict_t verdict;
    float area;          /* fraction of the image that is fingerprint */
    float coherence;     /* mean ridge-orientation coherence over the print, 0..1 */
    float contrast;      /* mean local standard deviation of the print's grey levels */
    float centre_offset; /* distance of the print's centroid from the image centre / half-size */
} cw_finger_quality_t;

/* ---- extraction ---- */

/*
 * cw_finger_extract: minutiae of a 500 dpi grayscale image (use the loaders above), with the
 * image quality. quality may be NULL. Steps: block segmentation, orientation field (smoothed
 * doubled-angle gradient vectors), ridge frequency, oriented Gabor enhancement, binarisation,
 * thinning, crossing-number minutiae, removal of false minutiae (border, short ridges, spurs,
 * bridges, holes, clusters). At most CW_FINGER_MAX_MINUTIAE are kept (the best quality).
 * A blank or non-fingerprint image is a result, not an error: 0 minutiae and a verdict.
 * Returns 0, CW_EINVAL (NULL, not 1 channel, smaller than 32x32), CW_ETOOBIG, CW_ENOMEM.
 * Thread-safe; allocates scratch internally and wipes it.
 */
int cw_finger_extract(const cw_image_t *img, cw_finger_template_t *out,
                      cw_finger_quality_t *quality, char *diag, size_t diag_len);

/* ---- ISO/IEC 19794-2:2005 records ---- */

/*
 * cw_finger_iso_write: the record for one finger view ("FMR\0", " 20\0", record length,
 * capture equipment 0, image size, resolution in pixels per cm, one view, no extended data).
 * Writes at most cap bytes into buf and stores the record length in *len; CW_ETOOBIG when cap
 * is too small (*len still receives the length needed), CW_EINVAL for a template with more
 * than CW_FINGER_MAX_MINUTIAE minutiae, coordinates over 16383 or a resolution outside
 * 102..2032 dpi (40..800 pixels per cm, the range the reader accepts).
 */
int cw_finger_iso_write(const cw_finger_template_t *tpl, uint8_t *buf, size_t cap, size_t *len);

/*
 * cw_finger_iso_read: parse a record (the first finger view is read; further views and any
 * extended data blocks are checked for length and skipped). Returns 0, CW_EUNSUPPORTED (not
 * "FMR\0 20\0"), CW_EFORMAT (lengths that disagree with the bytes, truncated views, minutiae
 * outside the image, zero resolution or image size), CW_EINVAL. Never reads past len.
 */
int cw_finger_iso_read(const uint8_t *buf, size_t len, cw_finger_template_t *out, char *diag,
                       size_t diag_len);

/* ---- matching ---- */

/*
 * A template prepared for matching: minutiae in matcher form, one Minutia Cylinder-Code bit
 * vector (cells and validity mask) per valid minutia, and pairwise geometry. Opaque contents.
 */
typedef struct cw_finger_prepared {
    void *impl;
} cw_finger_prepared_t;

/*
 * cw_finger_prepare: build the matcher form of tpl into *out (free with
 * cw_finger_prepared_free). A template with no minutiae is valid and matches nothing.
 * Returns 0, CW_EINVAL (n over CW_FINGER_MAX_MINUTIAE, dpi 0), CW_ENOMEM.
 */
int cw_finger_prepare(const cw_finger_template_t *tpl, cw_finger_prepared_t *out);

/* cw_finger_prepared_free: wipe and free; the struct is zeroed. NULL or empty is a no-op. */
void cw_finger_prepared_free(cw_finger_prepared_t *p);

/*
 * cw_finger_compare: similarity of two prepared templates in [0, 1], symmetric
 * (compare(a, b) == compare(b, a) exactly). Empty or invalid templates give 0. No allocation;
 * thread-safe.
 */
float cw_finger_compare(const cw_finger_prepared_t *a, const cw_finger_prepared_t *b);

/*
 * cw_finger_compare_templates: prepare both and compare (convenience for 1:1 at a gate).
 * Stores the score in *score. Returns 0 or an error of cw_finger_prepare.
 */
int cw_finger_compare_templates(const cw_finger_template_t *a, const cw_finger_template_t *b,
                                float *score);

/*
 * cw_finger_search: compare probe against gallery[0, n) and write the n scores into scores
 * (same order), on pool (NULL: the calling thread only). Returns 0 or CW_EINVAL.
 */
int cw_finger_search(cw_pool_t *pool, const cw_finger_prepared_t *probe,
                     const cw_finger_prepared_t *gallery, size_t n, float *scores);

/*
 * cw_finger_threshold: the score threshold for a target false match rate (1e-3, 1e-4 or 1e-5
 * rounded to the nearest of those), calibrated on impostor scores for
 * CW_FINGER_MATCHER_VERSION. A score >= threshold is a match.
 */
float cw_finger_threshold(double fmr);

/* ---- synthetic prints (for tests and demonstrations) ---- */

typedef struct cw_finger_synth_params {
    int width;         /* impression size (default 240) */
    int height;        /* (default 280) */
    float rotation;    /* max absolute rotation in degrees between impressions (default 15) */
    float translation; /* max translation in pixels (default 20) */
    float distortion;  /* elastic distortion amplitude in pixels (default 3) */
    float noise;       /* additive noise standard deviation in grey levels (default 12) */
    float dryness;     /* 0..1 fraction of ridge broken by dry contact (default 0.1) */
    float contact;     /* 0..1 minimum fraction of the print in contact (default 0.75) */
} cw_finger_synth_params_t;

/*
 * cw_finger_synth: impression `impression` of synthetic finger `finger` (both seeds: the same
 * pair always gives the same image), 500 dpi grayscale, dark ridges on a light background.
 * The finger's pattern (arch, loop, whorl, with cores and deltas), ridge spacing and the
 * impression's pose, distortion, contact and noise are derived from the seeds. params may be
 * NULL for the defaults. Returns 0, CW_EINVAL (sizes outside 64..1024), CW_ENOMEM.
 */
int cw_finger_synth(uint32_t finger, uint32_t impression, const cw_finger_synth_params_t *params,
                    cw_image_t *out);

#ifdef __cplusplus
}
#endif
#endif
