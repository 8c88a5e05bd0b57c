// SPDX-License-Identifier: Apache-2.0
// The route table: every endpoint of the API with the roles allowed to call it. This table is
// the authorisation matrix; docs/api.md and docs/openapi.yaml describe the same rows, and the
// integration test checks the matrix against its own independent copy.
#include "server_internal.h"

#include <stdio.h>
#include <string.h>

#define GATE_TXN "/v1/gates/{gate}/transactions/{txn}"

const cw__route_t cw__routes[] = {
    {"healthz", "GET", "/healthz", 0, CW__BODY_NONE, 0, cw__h_healthz},
    {"metrics", "GET", "/metrics", CW__OFFICER | CW__ADMIN, CW__BODY_NONE, 0, cw__h_metrics},
    // Gate devices (bound to their gate); admins may drive any gate.
    {"txn_begin", "POST", "/v1/gates/{gate}/transactions", CW__GATE | CW__ADMIN, CW__BODY_OPTIONAL,
     1, cw__h_txn_begin},
    {"txn_face", "POST", GATE_TXN "/face", CW__GATE | CW__ADMIN, CW__BODY_JSON, 1, cw__h_txn_face},
    {"txn_document", "POST", GATE_TXN "/document", CW__GATE | CW__ADMIN, CW__BODY_JSON, 1,
     cw__h_txn_document},
    {"txn_confirm", "POST", GATE_TXN "/confirm", CW__GATE | CW__ADMIN, CW__BODY_JSON, 1,
     cw__h_txn_confirm},
    {"txn_inside", "POST", GATE_TXN "/inside", CW__GATE | CW__ADMIN, CW__BODY_JSON, 1,
     cw__h_txn_inside},
    {"txn_abandon", "POST", GATE_TXN "/abandon", CW__GATE | CW__ADMIN, CW__BODY_OPTIONAL, 1,
     cw__h_txn_abandon},
    // Enrolment and records.
    {"traveller_enrol", "POST", "/v1/travellers", CW__CLERK | CW__ADMIN, CW__BODY_JSON, 0,
     cw__h_traveller_enrol},
    {"traveller_get", "GET", "/v1/travellers/{id}", CW__CLERK | CW__OFFICER | CW__ADMIN,
     CW__BODY_NONE, 0, cw__h_traveller_get},
    {"traveller_delete", "DELETE", "/v1/travellers/{id}", CW__CLERK | CW__ADMIN, CW__BODY_NONE, 0,
     cw__h_traveller_delete},
    {"consent_withdraw", "POST", "/v1/travellers/{id}/consents/{modality}/withdraw",
     CW__CLERK | CW__ADMIN, CW__BODY_OPTIONAL, 0, cw__h_consent_withdraw},
    {"token_issue", "POST", "/v1/travellers/{id}/tokens", CW__CLERK | CW__ADMIN, CW__BODY_JSON, 0,
     cw__h_token_issue},
    {"token_revoke", "POST", "/v1/tokens/{id}/revoke", CW__CLERK | CW__ADMIN, CW__BODY_OPTIONAL, 0,
     cw__h_token_revoke},
    // Officers: the referral queue, timelines, resolutions, reports.
    {"referrals", "GET", "/v1/referrals", CW__OFFICER | CW__ADMIN, CW__BODY_NONE, 0,
     cw__h_referrals},
    {"clearance_get", "GET", "/v1/clearances/{txn}", CW__OFFICER | CW__ADMIN, CW__BODY_NONE, 0,
     cw__h_clearance_get},
    {"referral_resolve", "POST", "/v1/referrals/{txn}/resolve", CW__OFFICER | CW__ADMIN,
     CW__BODY_JSON, 0, cw__h_referral_resolve},
    {"reports", "GET", "/v1/reports", CW__OFFICER | CW__ADMIN, CW__BODY_NONE, 0, cw__h_reports},
    {"stats_live", "GET", "/v1/stats/live", CW__OFFICER | CW__ADMIN, CW__BODY_NONE, 0,
     cw__h_stats_live},
    // Administrators: API keys.
    {"apikey_add", "POST", "/v1/apikeys", CW__ADMIN, CW__BODY_JSON, 0, cw__h_apikey_add},
    {"apikey_list", "GET", "/v1/apikeys", CW__ADMIN, CW__BODY_NONE, 0, cw__h_apikey_list},
    {"apikey_revoke", "DELETE", "/v1/apikeys/{id}", CW__ADMIN, CW__BODY_NONE, 0,
     cw__h_apikey_revoke},
    // Administrators: the port operator's passenger totals (the reports' denominators).
    {"passengers_set", "PUT", "/v1/ports/{port}/passengers/{day}", CW__ADMIN, CW__BODY_JSON, 0,
     cw__h_passengers_set},
    // The browser pages (web/): public files, no personal data in them (h_ui.c).
    {"ui_root", "GET", "/", 0, CW__BODY_NONE, 0, cw__h_ui_root},
    {"ui_redirect", "GET", "/ui", 0, CW__BODY_NONE, 0, cw__h_ui_root},
    {"ui_file", "GET", "/ui/*", 0, CW__BODY_NONE, 0, cw__h_ui_file},
};

const size_t cw__n_routes = sizeof(cw__routes) / sizeof(cw__routes[0]);

// Match one pattern against path; 1 on a match (parameters copied), 0 if not, -1 if a
// parameter is too long. A parameter is one non-empty segment.
static int match_one(const char *pat, const char *path, char params[][CW__PARAM_MAX], int *n)
{
    *n = 0;
    while (*pat != '\0') {
        if (pat[0] == '*' && pat[1] == '\0') {
            return 1; // the rest of the path, whatever it is
        }
        if (*path == '\0') {
            break;
        }
        if (*pat == '{') {
            const char *close = strchr(pat, '}');
            size_t len = strcspn(path, "/");
            if (close == NULL || len == 0 || *n == CW__MAX_PARAMS) {
                return 0;
            }
            if (len >= CW__PARAM_MAX) {
                return -1;
            }
            memcpy(params[*n], path, len);
            params[*n][len] = '\0';
            (*n)++;
            pat = close + 1;
            path += len;
            continue;
        }
        if (*pat != *path) {
            return 0;
        }
        pat++;
        path++;
    }
    return *pat == '\0' && *path == '\0';
}

int cw__route_match(const char *method, const char *path, char params[][CW__PARAM_MAX],
                    int *n_params, char *allow, size_t allow_cap)
{
    int path_matched = 0, too_long = 0;
    char scratch[CW__MAX_PARAMS][CW__PARAM_MAX];
    if (allow_cap > 0) {
        allow[0] = '\0';
    }
    for (size_t i = 0; i < cw__n_routes; i++) {
        int n = 0;
        int m = match_one(cw__routes[i].pattern, path, scratch, &n);
        if (m < 0) {
            too_long = 1;
            continue;
        }
        if (m == 0) {
            continue;
        }
        if (strcmp(cw__routes[i].method, method) == 0) {
            memcpy(params, scratch, sizeof(scratch));
            *n_params = n;
            return (int)i;
        }
        if (allow_cap > 0 && strstr(allow, cw__routes[i].method) == NULL) {
            size_t used = strlen(allow);
            snprintf(allow + used, allow_cap - used, "%s%s", used > 0 ? ", " : "",
                     cw__routes[i].method);
        }
        path_matched = 1;
    }
    if (path_matched) {
        return -2;
    }
    return too_long ? -3 : -1;
}
