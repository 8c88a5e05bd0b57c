// SPDX-License-Identifier: Apache-2.0
// `clearway finger extract|compare|show`: minutiae of a fingerprint image (optionally written
// as an ISO/IEC 19794-2 record), 1:1 comparison of images or ISO templates with the decision at
// a calibrated FMR, and a PNG of the print with its minutiae drawn, for a person to look at.
#include "cli.h"

#include "clearway/clearway.h"
#include "clearway/finger.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static int run_finger(int argc, char **argv);

const cw_cli_command_t cw_cmd_finger = {
    "finger",
    "Fingerprints: extract minutiae (ISO 19794-2), compare, show",
    "Usage: clearway finger extract IMG [-o FILE.iso] [--dpi N] [--json]\n"
    "       clearway finger compare A B [--fmr 1e-3|1e-4|1e-5] [--dpi N]\n"
    "       clearway finger show IMG -o OUT.png [--dpi N]\n"
    "       clearway finger synth FINGER IMPRESSION -o OUT.png\n"
    "\n"
    "IMG is an 8-bit grayscale TIFF (uncompressed) or a PNG; images are brought to 500 dpi\n"
    "(--dpi gives the sensor resolution when the file states none; default 500).\n"
    "\n"
    "extract  prints the number of minutiae, the image quality (0..100) and the verdict for\n"
    "         the traveller; -o writes the template as an ISO/IEC 19794-2:2005 record.\n"
    "compare  A and B are images or ISO records; prints `score S threshold T decision\n"
    "         match|no match` at the threshold calibrated for --fmr (default 1e-4).\n"
    "show     writes a colour PNG: ridge endings red, bifurcations blue, with their angles.\n"
    "synth    writes impression IMPRESSION of synthetic finger FINGER (numbers >= 0) as a\n"
    "         500 dpi PNG: test prints that are nobody's fingerprint.\n"
    "\n"
    "Exit status: 0 (also for `no match` and poor quality), 1 unreadable input, 2 bad command\n"
    "line.\n",
    run_finger,
    NULL,
};

typedef struct fopts {
    const char *pos[2];
    int npos;
    const char *out;
    int dpi;
    int json;
    double fmr;
} fopts_t;

static int parse(int argc, char **argv, fopts_t *o, int max_pos)
{
    memset(o, 0, sizeof(*o));
    o->fmr = 1e-4;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = strcmp(a, "-o") == 0 || strcmp(a, "--dpi") == 0 || strcmp(a, "--fmr") == 0;
        if (takes && v == NULL) {
            return cw_cli_usage_error("finger", "%s needs a value", a);
        }
        char *end = NULL;
        if (strcmp(a, "-o") == 0) {
            o->out = v;
        } else if (strcmp(a, "--dpi") == 0) {
            long n = strtol(v, &end, 10);
            if (*end != '\0' || n < 100 || n > 2000) {
                return cw_cli_usage_error("finger", "--dpi must be 100..2000");
            }
            o->dpi = (int)n;
        } else if (strcmp(a, "--fmr") == 0) {
            double f = strtod(v, &end);
            if (*end != '\0' || !(f == 1e-3 || f == 1e-4 || f == 1e-5)) {
                return cw_cli_usage_error("finger", "--fmr must be 1e-3, 1e-4 or 1e-5");
            }
            o->fmr = f;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cw_cli_usage_error("finger", "unknown argument '%s'", a);
        } else if (o->npos < max_pos) {
            o->pos[o->npos++] = a;
        } else {
            return cw_cli_usage_error("finger", "too many arguments ('%s')", a);
        }
        i += takes;
    }
    return 0;
}

// An ISO record or an image, as a template.
static int load_template(const char *path, int dpi, cw_finger_template_t *tpl,
                         cw_finger_quality_t *q)
{
    char diag[256];
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "clearway finger: cannot read '%s'\n", path);
        return -1;
    }
    uint8_t head[8] = {0};
    size_t got = fread(head, 1, sizeof(head), f);
    if (got == sizeof(head) && memcmp(head, "FMR\0", 4) == 0) {
        static uint8_t buf[1 << 16];
        memcpy(buf, head, got);
        size_t len = got + fread(buf + got, 1, sizeof(buf) - got, f);
        fclose(f);
        int rc = cw_finger_iso_read(buf, len, tpl, diag, sizeof(diag));
        if (rc != 0) {
            fprintf(stderr, "clearway finger: '%s': %s\n", path, diag);
            return -1;
        }
        if (q != NULL) {
            memset(q, 0, sizeof(*q));
            q->score = tpl->quality;
        }
        return 0;
    }
    fclose(f);
    cw_image_t img;
    int rc = cw_finger_image_load(path, dpi, &img, diag, sizeof(diag));
    if (rc == 0) {
        rc = cw_finger_extract(&img, tpl, q, diag, sizeof(diag));
        cw_image_free(&img);
    }
    if (rc != 0) {
        fprintf(stderr, "clearway finger: cannot read image '%s': %s\n", path, diag);
        return -1;
    }
    return 0;
}

static int do_extract(int argc, char **argv)
{
    fopts_t o;
    int rc = parse(argc, argv, &o, 1);
    if (rc != 0) {
        return rc;
    }
    if (o.npos != 1) {
        return cw_cli_usage_error("finger", "extract takes 1 image file");
    }
    cw_finger_template_t *tpl = malloc(sizeof(*tpl));
    cw_finger_quality_t q;
    if (tpl == NULL || load_template(o.pos[0], o.dpi, tpl, &q) != 0) {
        free(tpl);
        return CW_EXIT_FAIL;
    }
    int ret = CW_EXIT_OK;
    if (o.json) {
        printf("{\"minutiae\":%d,\"quality\":%d,\"verdict\":\"%s\",\"area\":%.3f,"
               "\"coherence\":%.3f,\"contrast\":%.1f,\"width\":%d,\"height\":%d}\n",
               tpl->n, q.score, cw_finger_verdict_text(q.verdict), q.area, q.coherence, q.contrast,
               tpl->width, tpl->height);
    } else {
        printf("minutiae %d\nquality %d\nverdict %s\n", tpl->n, q.score,
               cw_finger_verdict_text(q.verdict));
    }
    if (o.out != NULL) {
        static uint8_t buf[64 + 6 * CW_FINGER_MAX_MINUTIAE];
        size_t len = 0;
        FILE *f = NULL;
        if (cw_finger_iso_write(tpl, buf, sizeof(buf), &len) != 0 ||
            (f = fopen(o.out, "wb")) == NULL || fwrite(buf, 1, len, f) != len) {
            fprintf(stderr, "clearway finger: cannot write '%s'\n", o.out);
            ret = CW_EXIT_FAIL;
        }
        if (f != NULL && fclose(f) != 0) {
            ret = CW_EXIT_FAIL;
        }
    }
    cw_memzero(tpl, sizeof(*tpl));
    free(tpl);
    return ret;
}

static int do_compare(int argc, char **argv)
{
    fopts_t o;
    int rc = parse(argc, argv, &o, 2);
    if (rc != 0) {
        return rc;
    }
    if (o.npos != 2) {
        return cw_cli_usage_error("finger", "compare takes 2 files (images or ISO templates)");
    }
    cw_finger_template_t *t = malloc(2 * sizeof(*t));
    int ret = CW_EXIT_FAIL;
    float score = 0.0f;
    if (t != NULL && load_template(o.pos[0], o.dpi, &t[0], NULL) == 0 &&
        load_template(o.pos[1], o.dpi, &t[1], NULL) == 0 &&
        cw_finger_compare_templates(&t[0], &t[1], &score) == 0) {
        float thr = cw_finger_threshold(o.fmr);
        printf("score %.4f threshold %.4f decision %s\n", score, thr,
               score >= thr ? "match" : "no match");
        ret = CW_EXIT_OK;
    }
    if (t != NULL) {
        cw_memzero(t, 2 * sizeof(*t));
    }
    free(t);
    return ret;
}

static void put(cw_image_t *im, int x, int y, uint8_t r, uint8_t g, uint8_t b)
{
    if (x < 0 || y < 0 || x >= im->width || y >= im->height) {
        return;
    }
    uint8_t *p = im->data + (size_t)y * im->stride + 3 * (size_t)x;
    p[0] = r;
    p[1] = g;
    p[2] = b;
}

static int do_show(int argc, char **argv)
{
    fopts_t o;
    int rc = parse(argc, argv, &o, 1);
    if (rc != 0) {
        return rc;
    }
    if (o.npos != 1 || o.out == NULL) {
        return cw_cli_usage_error("finger", "show takes 1 image file and -o OUT.png");
    }
    char diag[256];
    cw_image_t img, rgb;
    cw_finger_template_t *tpl = malloc(sizeof(*tpl));
    if (tpl == NULL) {
        return CW_EXIT_FAIL;
    }
    rc = cw_finger_image_load(o.pos[0], o.dpi, &img, diag, sizeof(diag));
    if (rc == 0) {
        rc = cw_finger_extract(&img, tpl, NULL, diag, sizeof(diag));
        if (rc != 0) {
            cw_image_free(&img);
        }
    }
    if (rc != 0) {
        fprintf(stderr, "clearway finger: cannot read image '%s': %s\n", o.pos[0], diag);
        free(tpl);
        return CW_EXIT_FAIL;
    }
    rc = cw_image_alloc(img.width, img.height, 3, &rgb);
    if (rc == 0) {
        for (int y = 0; y < img.height; y++) {
            for (int x = 0; x < img.width; x++) {
                uint8_t v = img.data[(size_t)y * img.stride + x];
                put(&rgb, x, y, v, v, v);
            }
        }
        for (int i = 0; i < tpl->n; i++) {
            const cw_minutia_t *m = &tpl->m[i];
            int bif = m->type == CW_MINUTIA_BIFURCATION;
            uint8_t r = bif ? 0 : 230, b = bif ? 230 : 0;
            for (int a = 0; a < 32; a++) { // circle of radius 4
                double t = a * 2 * M_PI / 32;
                put(&rgb, m->x + (int)lround(4 * cos(t)), m->y + (int)lround(4 * sin(t)), r, 0, b);
            }
            double th = -m->angle * 2 * M_PI / 256; // ISO counter-clockwise, image y down
            for (int s = 4; s <= 14; s++) {
                put(&rgb, m->x + (int)lround(s * cos(th)), m->y + (int)lround(s * sin(th)), r, 0,
                    b);
            }
        }
        rc = cw_image_write_png(&rgb, o.out, diag, sizeof(diag));
        cw_image_free(&rgb);
    }
    cw_image_free(&img);
    int n = tpl->n;
    free(tpl);
    if (rc != 0) {
        fprintf(stderr, "clearway finger: cannot write '%s': %s\n", o.out, diag);
        return CW_EXIT_FAIL;
    }
    printf("wrote %s (%d minutiae)\n", o.out, n);
    return CW_EXIT_OK;
}

static int do_synth(int argc, char **argv)
{
    fopts_t o;
    int rc = parse(argc, argv, &o, 2);
    if (rc != 0) {
        return rc;
    }
    char *e1 = NULL, *e2 = NULL;
    long f = o.npos == 2 ? strtol(o.pos[0], &e1, 10) : -1;
    long i = o.npos == 2 ? strtol(o.pos[1], &e2, 10) : -1;
    if (o.npos != 2 || *e1 != '\0' || *e2 != '\0' || f < 0 || i < 0 || f > 0xffffffffL ||
        i > 0xffffffffL || o.out == NULL) {
        return cw_cli_usage_error("finger",
                                  "synth takes FINGER IMPRESSION (numbers) and -o OUT.png");
    }
    cw_image_t img;
    char diag[256] = "";
    rc = cw_finger_synth((uint32_t)f, (uint32_t)i, NULL, &img);
    if (rc == 0) {
        rc = cw_image_write_png(&img, o.out, diag, sizeof(diag));
        cw_image_free(&img);
    }
    if (rc != 0) {
        fprintf(stderr, "clearway finger: cannot write '%s': %s %s\n", o.out, cw_strerror(rc),
                diag);
        return CW_EXIT_FAIL;
    }
    printf("wrote %s\n", o.out);
    return CW_EXIT_OK;
}

static int run_finger(int argc, char **argv)
{
    if (argc < 2) {
        return cw_cli_usage_error("finger", "expected an action: extract, compare, show or synth");
    }
    if (strcmp(argv[1], "extract") == 0) {
        return do_extract(argc, argv);
    }
    if (strcmp(argv[1], "compare") == 0) {
        return do_compare(argc, argv);
    }
    if (strcmp(argv[1], "show") == 0) {
        return do_show(argc, argv);
    }
    if (strcmp(argv[1], "synth") == 0) {
        return do_synth(argc, argv);
    }
    return cw_cli_usage_error("finger", "unknown action '%s'", argv[1]);
}
