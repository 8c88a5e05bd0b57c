// SPDX-License-Identifier: Apache-2.0
// The default policies are the population-scale study's: cw_clearance_policy_default must hold
// the values of docs/scale/policy.json, the file `clearway sim population --policy` wrote from the
// measured score files (their BLAKE2b-256 hashes are in its "source"). A study re-run that changes
// the file without the defaults following it, or the reverse, fails here.
#include "clearway/clearance.h"

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#ifndef CW_TEST_POLICY_FILE
#error "CW_TEST_POLICY_FILE must name docs/scale/policy.json"
#endif

static json_t *policies(void)
{
    json_error_t e;
    json_t *root = json_load_file(CW_TEST_POLICY_FILE, 0, &e);
    if (root == NULL) {
        fail_msg("%s: %s (line %d)", CW_TEST_POLICY_FILE, e.text, e.line);
    }
    return root;
}

static void near(double got, double want, const char *prog, const char *key)
{
    if (!(fabs(got - want) <= 1e-6 * fabs(want))) {
        fail_msg("%s.%s: the default is %.10g, the study's file says %.10g", prog, key, got, want);
    }
}

static void test_defaults_are_the_studys(void **state)
{
    (void)state;
    json_t *root = policies();
    json_t *pol = json_object_get(root, "policies");
    assert_non_null(pol);
    assert_non_null(json_object_get(root, "source"));
    int seen = 0;
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        const char *name = cw_programme_name((cw_programme_t)p);
        json_t *o = json_object_get(pol, name);
        if (o == NULL) {
            fail_msg("%s has no policy for %s", CW_TEST_POLICY_FILE, name);
        }
        cw_clearance_policy_t d;
        cw_clearance_policy_default((cw_programme_t)p, &d);
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v)
        {
            double x = json_number_value(v);
            if (strcmp(key, "target_fpir") == 0) {
                near(d.gallery.target_fpir, x, name, key);
            } else if (strcmp(key, "margin") == 0) {
                near(d.gallery.margin, x, name, key);
            } else if (strcmp(key, "population_cap") == 0) {
                if ((double)d.gallery.max_n != x) {
                    fail_msg("%s.population_cap: the default is %llu, the study's file says %g",
                             name, (unsigned long long)d.gallery.max_n, x);
                }
            } else if (strcmp(key, "max_captures") == 0) {
                assert_int_equal(d.max_captures, (int)json_integer_value(v));
            } else if (strcmp(key, "face_fmr") == 0) {
                near(d.face_fmr, x, name, key);
            } else if (strcmp(key, "finger_fmr") == 0) {
                near(d.finger_fmr, x, name, key);
            } else {
                fail_msg("%s.%s: a key this test does not know", name, key);
            }
            seen++;
        }
    }
    assert_true(seen >= 15);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_the_studys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
