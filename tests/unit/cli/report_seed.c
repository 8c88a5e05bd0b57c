// SPDX-License-Identifier: Apache-2.0
// report_seed DB: real clearance rows for the `clearway report` test (report_fixture.sh),
// written through the store API as the gate service writes them: ports LMC and HKG (and one
// whose code needs CSV quoting), a document-free gate at LMC, Smart Departure and Flight Token
// gates at HKG, and transactions on two local (UTC+8) days, one a second before local midnight.
// No passenger totals: the fixture enters those with `clearway passengers set`.
#include "clearway/clearway.h"
#include "clearway/store.h"

#include <stdio.h>

static const int64_t DAY1 = 1767225600; // 2026-01-01T00:00:00Z, 08:00 on 2026-01-01 local

static cw_store_t *st;
static char diag[256];

static int txn(uint64_t gate, cw_programme_t p, int64_t at, cw_clearance_decision_t d,
               const char *reason)
{
    uint64_t id;
    int err = cw_store_clearance_begin(st, gate, 0, p, at, &id, diag, sizeof(diag));
    if (err == 0 && d != CW_CLEARANCE_OPEN) {
        err = cw_store_clearance_finish(st, id, at + 5, d, reason, 0, diag, sizeof(diag));
    }
    return err;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: report_seed DB\n");
        return 2;
    }
    int err = cw_store_open(argv[1], NULL, &st, diag, sizeof(diag));
    uint64_t lmc = 0, hkg = 0, odd = 0, df = 0, sd = 0, ft = 0, odd_gate = 0;
    if (err == 0) {
        err = cw_store_port_add(st, "LMC", "Lok Ma Chau", &lmc, diag, sizeof(diag));
    }
    if (err == 0) {
        err = cw_store_port_add(st, "HKG", "Airport", &hkg, diag, sizeof(diag));
    }
    if (err == 0) {
        err = cw_store_port_add(st, "X,\"Y", "Quoted", &odd, diag, sizeof(diag));
    }
    if (err == 0) {
        err = cw_store_gate_add(st, lmc, "E1", CW_PROGRAMME_DOCUMENT_FREE, &df, diag, sizeof(diag));
    }
    if (err == 0) {
        err =
            cw_store_gate_add(st, hkg, "D1", CW_PROGRAMME_SMART_DEPARTURE, &sd, diag, sizeof(diag));
    }
    if (err == 0) {
        err = cw_store_gate_add(st, hkg, "T1", CW_PROGRAMME_FLIGHT_TOKEN, &ft, diag, sizeof(diag));
    }
    if (err == 0) {
        err = cw_store_gate_add(st, odd, "E1", CW_PROGRAMME_CONTACTLESS, &odd_gate, diag,
                                sizeof(diag));
    }
    const cw_programme_t DF = CW_PROGRAMME_DOCUMENT_FREE, SD = CW_PROGRAMME_SMART_DEPARTURE,
                         FT = CW_PROGRAMME_FLIGHT_TOKEN;
    const cw_clearance_decision_t C = CW_CLEARANCE_CLEARED, R = CW_CLEARANCE_REFERRED;
    // 2026-01-01 local: LMC document-free 3 cleared, 1 referred (at 23:59:59 local); HKG Smart
    // Departure 2 cleared, 1 referred; HKG Flight Token 1 cleared.
    for (int i = 0; err == 0 && i < 3; i++) {
        err = txn(df, DF, DAY1 + 60 * i, C, "");
    }
    if (err == 0) {
        err = txn(df, DF, DAY1 + 16 * 3600 - 1, R, "NO_MATCH");
    }
    for (int i = 0; err == 0 && i < 2; i++) {
        err = txn(sd, SD, DAY1 + 60 * i, C, "");
    }
    if (err == 0) {
        err = txn(sd, SD, DAY1 + 300, R, "CHIP_FACE_UNUSABLE");
    }
    if (err == 0) {
        err = txn(ft, FT, DAY1 + 400, C, "");
    }
    if (err == 0) {
        err = txn(odd_gate, CW_PROGRAMME_CONTACTLESS, DAY1 + 500, C, "");
    }
    // 2026-01-02 local (from 16:00 UTC on the 1st): LMC 1 cleared, 2 referred, 1 still open.
    const int64_t day2 = DAY1 + 16 * 3600;
    if (err == 0) {
        err = txn(df, DF, day2, C, "");
    }
    if (err == 0) {
        err = txn(df, DF, day2 + 100, R, "AMBIGUOUS");
    }
    if (err == 0) {
        err = txn(df, DF, day2 + 200, R, "NO_MATCH");
    }
    if (err == 0) {
        err = txn(df, DF, day2 + 300, CW_CLEARANCE_OPEN, "");
    }
    cw_store_close(st);
    if (err != 0) {
        fprintf(stderr, "report_seed: %s (%s)\n", diag, cw_err_name(err));
        return 1;
    }
    return 0;
}
