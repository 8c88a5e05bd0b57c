// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the MRZ parser: whatever the bytes, cw_mrz_parse returns CW_EFORMAT with a
// zeroed result and a reason, or 0 with fields that are terminated inside their arrays, hold only
// the characters they may (A-Z, 0-9, single spaces in names), and real dates; an accepted MRZ
// written as one unbroken run parses to the same result.
#include "clearway/clearance.h"
#include "clearway/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap, int spaces)
{
    size_t n = strnlen(s, cap);
    if (n == cap) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (spaces && c == ' ') ||
                 (!spaces && c == '<' && cap == 32);
        if (!ok || (c == ' ' && (i == 0 || i + 1 == n || s[i - 1] == ' '))) {
            abort();
        }
    }
}

static void check_date(const cw_date_t *d)
{
    if (d->year < 1900 || d->year > 2099 || d->month < 1 || d->month > 12 || d->day < 1 ||
        d->day > 31) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cw_date_t today = {2024, 6, 1};
    const char *text = (const char *)data;
    cw_mrz_t m;
    char diag[160];
    int rc = cw_mrz_parse(text, size, &today, &m, diag, sizeof(diag));
    if (rc != 0) {
        static const cw_mrz_t zero;
        if (rc != CW_EFORMAT || memcmp(&m, &zero, sizeof(m)) != 0 || diag[0] == '\0') {
            abort();
        }
        return 0;
    }
    if (m.format != CW_MRZ_TD1 && m.format != CW_MRZ_TD3) {
        abort();
    }
    check_text(m.doc_code, sizeof(m.doc_code), 0);
    check_text(m.issuer, sizeof(m.issuer), 0);
    check_text(m.number, sizeof(m.number), 0);
    check_text(m.nationality, sizeof(m.nationality), 0);
    check_text(m.optional, sizeof(m.optional), 0);
    check_text(m.surname, sizeof(m.surname), 1);
    check_text(m.given, sizeof(m.given), 1);
    check_date(&m.birth);
    check_date(&m.expiry);
    if (m.surname[0] == '\0' || m.number[0] == '\0' || strchr("FMX", m.sex) == NULL ||
        m.sex == '\0') {
        abort();
    }
    // The same characters without line breaks parse to the same result.
    char run[96];
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        if (text[i] != '\n' && text[i] != '\r') {
            if (n == sizeof(run)) {
                abort();
            }
            run[n++] = text[i];
        }
    }
    cw_mrz_t again;
    if (cw_mrz_parse(run, n, &today, &again, diag, sizeof(diag)) != 0 ||
        memcmp(&m, &again, sizeof(m)) != 0) {
        abort();
    }
    return 0;
}
