// SPDX-License-Identifier: Apache-2.0
// bench/face_pipeline: time the whole face pipeline, JPEG bytes in, template out (decode +
// detect + pick the subject + align + embed), on 250x250 photos (LFW, from the development
// data) and on 640x480 camera frames (made from the set-up's sample photos), on one core, and
// the throughput on every core. With --peer the same models run the same pipeline in
// TensorFlow.js's TFLite WASM interpreter (tools/reference/face_reference.js --bench) on the
// same files in the same run, and both figures are printed side by side.
#include "clearway/clearway.h"

#include <math.h>
#include <stdio.h> // before jpeglib.h, which uses FILE

#include <jpeglib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct blob {
    uint8_t *data;
    size_t len;
    char path[4096];
} blob_t;

typedef struct run {
    cw_face_engine_t *engine;
    cw_face_session_t **sessions;
    const blob_t *blobs;
    size_t n;
    double *ms;
    int found;
} run_t;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int read_file(const char *path, blob_t *b)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    b->data = malloc(len > 0 ? (size_t)len : 1);
    b->len = len > 0 && b->data != NULL ? fread(b->data, 1, (size_t)len, f) : 0;
    fclose(f);
    snprintf(b->path, sizeof(b->path), "%s", path);
    return b->len == (size_t)len ? 0 : -1;
}

// Encode an RGB image as a quality-90 JPEG file (what a camera or an upload would send).
static int write_jpeg(const cw_image_t *img, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return -1;
    }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)img->height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = img->data + (size_t)c.next_scanline * img->stride;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f) == 0 ? 0 : -1;
}

// One image through the pipeline; returns 1 if a template was made.
static int pipeline(cw_face_session_t *s, const blob_t *b)
{
    cw_image_t img;
    if (cw_image_decode(b->data, b->len, CW_IMAGE_RGB, NULL, &img, NULL, 0) != 0) {
        return 0;
    }
    cw_face_t faces[CW_FACE_MAX_FACES];
    int n = 0;
    int ok = 0;
    if (cw_face_detect(s, &img, faces, CW_FACE_MAX_FACES, &n) == 0 && n > 0) {
        int k = n < CW_FACE_MAX_FACES ? n : CW_FACE_MAX_FACES;
        int subj = cw_face_pick_subject(faces, k, img.width, img.height, CW_FACE_SUBJECT_AUTO);
        cw_face_template_t t;
        ok = cw_face_embed(s, &img, &faces[subj], &t) == 0;
    }
    cw_image_free(&img);
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)ceil(p * n) - 1;
    return sorted[i < n ? i : n - 1];
}

static int task(void *ctx, size_t i, int worker)
{
    run_t *r = ctx;
    pipeline(r->sessions[worker], &r->blobs[i % r->n]);
    return 0;
}

typedef struct figures {
    double p50, p99, mean, per_sec;
    int found;
} figures_t;

static void measure(run_t *r, cw_pool_t *pool, int reps, figures_t *fig)
{
    // Warm-up: first sight of each size creates the pyramid contexts.
    for (size_t i = 0; i < r->n; i++) {
        pipeline(r->sessions[0], &r->blobs[i]);
    }
    size_t total = r->n * (size_t)reps;
    double *ms = malloc(total * sizeof(double));
    fig->found = 0;
    for (size_t i = 0; i < total; i++) {
        double t0 = now_ms();
        fig->found += pipeline(r->sessions[0], &r->blobs[i % r->n]);
        ms[i] = now_ms() - t0;
    }
    fig->found /= reps;
    double sum = 0.0;
    for (size_t i = 0; i < total; i++) {
        sum += ms[i];
    }
    qsort(ms, total, sizeof(double), cmp_double);
    fig->p50 = pct(ms, total, 0.50);
    fig->p99 = pct(ms, total, 0.99);
    fig->mean = sum / total;
    free(ms);
    double t0 = now_ms();
    cw_pool_parallel_for(pool, total, task, r);
    fig->per_sec = total / ((now_ms() - t0) / 1e3);
}

// The peer: the JS reference pipeline on the same files; its mean ms per image, or < 0.
static double peer_mean(const blob_t *blobs, size_t n, size_t max_files)
{
    size_t len = 256;
    for (size_t i = 0; i < n && i < max_files; i++) {
        len += strlen(blobs[i].path) + 3;
    }
    char *cmd = malloc(len);
    if (cmd == NULL) {
        return -1.0;
    }
    snprintf(cmd, len, "node tools/reference/face_reference.js --bench");
    for (size_t i = 0; i < n && i < max_files; i++) {
        strcat(cmd, " '");
        strcat(cmd, blobs[i].path);
        strcat(cmd, "'");
    }
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (p == NULL) {
        return -1.0;
    }
    char line[1024];
    double mean = -1.0;
    while (fgets(line, sizeof(line), p) != NULL) {
        double v;
        if (sscanf(line, "mean_ms %lf", &v) == 1) {
            mean = v;
        }
    }
    pclose(p);
    return mean;
}

static void report(const char *what, const figures_t *f, size_t n, double peer, double target)
{
    printf("%-22s %4zu images, face found in %d: p50 %6.2f ms  p99 %6.2f ms  mean %6.2f ms"
           "  (target <= %.0f ms: %s)  throughput %.1f images/s on all cores\n",
           what, n, f->found, f->p50, f->p99, f->mean, target, f->p50 <= target ? "met" : "MISSED",
           f->per_sec);
    if (peer > 0.0) {
        printf("%-22s peer TF.js TFLite WASM mean %.2f ms per image: clearway is %.1fx faster "
               "(target >= 5x)\n",
               "", peer, peer / f->mean);
    }
}

int main(int argc, char **argv)
{
    const char *data = getenv("CLEARWAY_DATA") ? getenv("CLEARWAY_DATA") : "../shared/data";
    const char *deps = getenv("CLEARWAY_DEPS") ? getenv("CLEARWAY_DEPS") : ".deps";
    int n_photos = 200;
    int reps = 2;
    int peer = 0;
    int threads = CW_POOL_AUTO;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--peer") == 0) {
            peer = 1;
        } else if (strcmp(argv[i], "--photos") == 0 && i + 1 < argc) {
            n_photos = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]) - 1;
        } else {
            printf("Usage: face_pipeline [--photos N] [--threads N] [--peer]\n"
                   "Run from the checkout. Photos: $CLEARWAY_DATA/faces/lfw-dev (default "
                   "../shared/data); frames from $CLEARWAY_DEPS/npm/face-api/demo.\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    char feat[256];
    cw_cpu_describe(cw_cpu_features(), feat, sizeof(feat));
    printf("face_pipeline: %s, %d CPUs, kernels: %s%s\n", cw_cpu_model_name(), cw_cpu_count(),
           feat[0] ? feat : "scalar", cw_cpu_forced_scalar() ? " (CW_FORCE_SCALAR)" : "");

    cw_face_config_t cfg = {0};
    cfg.deps_dir = deps;
    run_t r = {0};
    char diag[512];
    cw_pool_t *pool = NULL;
    if (cw_face_engine_create(&cfg, &r.engine, diag, sizeof(diag)) != 0 ||
        cw_pool_create(threads, &pool) != 0) {
        fprintf(stderr, "face_pipeline: %s\n", diag);
        return 1;
    }
    int nw = cw_pool_size(pool) + 1;
    r.sessions = calloc((size_t)nw, sizeof(*r.sessions));
    for (int w = 0; w < nw; w++) {
        if (cw_face_session_create(r.engine, &r.sessions[w], diag, sizeof(diag)) != 0) {
            fprintf(stderr, "face_pipeline: %s\n", diag);
            return 1;
        }
    }

    // 250x250 photos: the first N of lfw-dev in name order.
    blob_t *photos = calloc((size_t)n_photos, sizeof(blob_t));
    size_t np = 0;
    char list[4096];
    snprintf(list, sizeof(list), "ls -1 '%s'/faces/lfw-dev/*/*.jpg 2>/dev/null | head -n %d", data,
             n_photos);
    FILE *ls = popen(list, "r");
    char path[4096];
    while (ls != NULL && np < (size_t)n_photos && fgets(path, sizeof(path), ls) != NULL) {
        path[strcspn(path, "\n")] = '\0';
        if (read_file(path, &photos[np]) == 0) {
            np++;
        }
    }
    if (ls != NULL) {
        pclose(ls);
    }
    figures_t f;
    if (np > 0) {
        r.blobs = photos;
        r.n = np;
        measure(&r, pool, reps, &f);
        report("250x250 photos (LFW)", &f, np, peer ? peer_mean(photos, np, 50) : -1.0, 25.0);
    } else {
        printf("250x250 photos: none under %s/faces/lfw-dev (set CLEARWAY_DATA)\n", data);
    }

    // 640x480 frames: each sample photo cut to 4:3 around its centre and scaled, as JPEG.
    blob_t frames[6];
    size_t nf = 0;
    char tmpdir[] = "/tmp/cw-bench-XXXXXX";
    if (mkdtemp(tmpdir) == NULL) {
        return 1;
    }
    for (int i = 1; i <= 6; i++) {
        snprintf(path, sizeof(path), "%s/npm/face-api/demo/sample%d.jpg", deps, i);
        cw_image_t img;
        cw_image_t frame;
        if (cw_image_load(path, CW_IMAGE_RGB, NULL, &img, NULL, 0) != 0) {
            continue;
        }
        int cw = img.width;
        int ch = img.width * 3 / 4;
        if (ch > img.height) {
            ch = img.height;
            cw = img.height * 4 / 3;
        }
        cw_image_t crop = img;
        crop.data = img.data + (size_t)((img.height - ch) / 2) * img.stride +
                    (size_t)((img.width - cw) / 2) * 3;
        crop.width = cw;
        crop.height = ch;
        if (cw_image_resize(&crop, 640, 480, &frame) == 0) {
            snprintf(path, sizeof(path), "%s/frame%d.jpg", tmpdir, i);
            if (write_jpeg(&frame, path) == 0 && read_file(path, &frames[nf]) == 0) {
                nf++;
            }
            cw_image_free(&frame);
        }
        cw_image_free(&img);
    }
    if (nf > 0) {
        r.blobs = frames;
        r.n = nf;
        measure(&r, pool, 10, &f);
        report("640x480 frames", &f, nf, peer ? peer_mean(frames, nf, nf) : -1.0, 40.0);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak resident memory %.1f MiB (%d sessions)\n", ru.ru_maxrss / 1024.0, nw);
    char rm[256];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", tmpdir);
    if (system(rm) != 0) {
        fprintf(stderr, "face_pipeline: could not remove %s\n", tmpdir);
    }
    for (int w = 0; w < nw; w++) {
        cw_face_session_destroy(r.sessions[w]);
    }
    cw_face_engine_destroy(r.engine);
    cw_pool_destroy(pool);
    return 0;
}
