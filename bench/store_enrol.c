// SPDX-License-Identifier: Apache-2.0
// store_enrol: enrolments per second on each backend, one transaction per enrolment as bulk
// import does it (a traveller with two documents, two memberships, two consents, a 768-byte
// face and a 300-byte fingerprint template, all sealed, plus the audit entry). SQLite runs on a
// file in /tmp with synchronous=FULL; PostgreSQL on a private server the test harness starts
// (fsync off: it measures the store, not the disk), or on --pg URL.
//   build/s-dev/bench/store_enrol [--n N] [--pg URL]
#include "clearway/err.h"
#include "clearway/store.h"

#include "../tests/unit/store/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static unsigned char face[768], finger[300];

static void make(cw_store_traveller_t *t, int n)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->name_local, sizeof(t->name_local), "陳大文 %d", n);
    snprintf(t->name_latin, sizeof(t->name_latin), "CHAN, Tai Man %d", n);
    t->sex = CW_SEX_MALE;
    t->birth = (cw_date_t){1990, 2, 28};
    t->residence = CW_RESIDENCE_HONG_KONG;
    strcpy(t->nationality, "CHN");
    t->n_documents = 2;
    t->documents[0].type = CW_DOC_HK_IDENTITY_CARD;
    snprintf(t->documents[0].number, sizeof(t->documents[0].number), "A%07d", n);
    t->documents[0].issued = (cw_date_t){2018, 1, 1};
    t->documents[0].expires = (cw_date_t){2030, 1, 1};
    t->documents[1].type = CW_DOC_MAINLAND_TRAVEL_PERMIT;
    snprintf(t->documents[1].number, sizeof(t->documents[1].number), "H%08d", n);
    t->documents[1].issued = (cw_date_t){2018, 1, 1};
    t->documents[1].expires = (cw_date_t){2030, 1, 1};
    t->n_memberships = 2;
    t->memberships[0].programme = CW_PROGRAMME_DOCUMENT_FREE;
    t->memberships[1].programme = CW_PROGRAMME_CONTACTLESS;
    t->n_consents = 2;
    t->consents[0] = (cw_store_consent_t){CW_MODALITY_FACE, 1, 0};
    t->consents[1] = (cw_store_consent_t){CW_MODALITY_FINGERPRINT, 1, 0};
    t->n_templates = 2;
    t->templates[0].modality = CW_MODALITY_FACE;
    t->templates[0].data = face;
    t->templates[0].len = sizeof(face);
    t->templates[1].modality = CW_MODALITY_FINGERPRINT;
    t->templates[1].data = finger;
    t->templates[1].len = sizeof(finger);
}

static int run(const char *label, const char *target, int n)
{
    cw_store_config_t cfg = {
        .key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"};
    cw_store_t *st;
    char diag[256] = "";
    int err = cw_store_open(target, &cfg, &st, diag, sizeof(diag));
    if (err != 0) {
        fprintf(stderr, "%s: %s\n", label, diag);
        return 1;
    }
    cw_store_traveller_t t;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        make(&t, i);
        err = cw_store_enrol(st, &t, 1767225600, "bench", diag, sizeof(diag));
        if (err != 0) {
            fprintf(stderr, "%s: enrol %d: %s\n", label, i, diag);
            cw_store_close(st);
            return 1;
        }
    }
    double dt = now_s() - t0;
    cw_store_close(st);
    printf("%-32s %6d enrolments in %6.2f s: %8.0f enrolments/s (%.2f ms each)\n", label, n, dt,
           n / dt, dt * 1000 / n);
    return 0;
}

int main(int argc, char **argv)
{
    int n = 2000;
    const char *pg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--pg") == 0 && i + 1 < argc) {
            pg = argv[++i];
        } else {
            fprintf(stderr, "usage: store_enrol [--n N] [--pg URL]\n");
            return 2;
        }
    }
    if (n < 1) {
        n = 1;
    }
    for (size_t i = 0; i < sizeof(face); i++) {
        face[i] = (unsigned char)(i * 7);
    }
    FILE *cpu = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (cpu != NULL && fgets(line, sizeof(line), cpu) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            printf("cpu: %s", strchr(line, ':') + 2);
            break;
        }
    }
    if (cpu != NULL) {
        fclose(cpu);
    }
    int rc = 0;
    cw_test_db_t sq;
    char target[600];
    if (cw_test_db_start(&sq, 0) == 0 && cw_test_db_fresh(&sq, target, sizeof(target)) == 0) {
        rc |= run("sqlite (WAL, synchronous=FULL)", target, n);
    }
    cw_test_db_stop(&sq);
    if (pg != NULL) {
        rc |= run("postgresql (given URL)", pg, n);
    } else {
        cw_test_db_t h;
        if (cw_test_db_start(&h, 1) != 0) {
            printf("postgresql: skipped (%s)\n", h.why);
        } else {
            if (cw_test_db_fresh(&h, target, sizeof(target)) == 0) {
                rc |= run("postgresql (unix socket, fsync off)", target, n);
            }
            cw_test_db_stop(&h);
        }
    }
    return rc;
}
