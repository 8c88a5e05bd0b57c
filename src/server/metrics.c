// SPDX-License-Identifier: Apache-2.0
// /metrics: Prometheus text exposition (format 0.0.4). Request counts by route and status and
// a latency histogram by route are lock-free counters updated as each request completes; the
// clearance numbers (decisions by programme and reason, cleared, gallery sizes and caps, open
// transactions) come from cw_clearance_stats at scrape time, the resident set from /proc.
#include "server_internal.h"

#include "clearway/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const int statuses[CW__N_STATUS - 1] = {200, 201, 400, 401, 403, 404, 405,
                                               409, 413, 415, 422, 500, 503};
static const double bounds[CW__N_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,    2.5,   5,    10,  30};

void cw__metrics_record(cw_server_t *s, int route, int status, double seconds)
{
    cw__route_metrics_t *m = &s->metrics[route >= 0 ? (size_t)route : cw__n_routes];
    int slot = CW__N_STATUS - 1; // "other"
    for (int i = 0; i < CW__N_STATUS - 1; i++) {
        if (statuses[i] == status) {
            slot = i;
            break;
        }
    }
    atomic_fetch_add(&m->by_status[slot], 1);
    for (int b = 0; b < CW__N_BUCKETS; b++) {
        if (seconds <= bounds[b]) {
            atomic_fetch_add(&m->bucket[b], 1);
            break;
        }
    }
    atomic_fetch_add(&m->sum_us, (uint64_t)(seconds * 1e6));
    atomic_fetch_add(&m->count, 1);
}

typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
put(text_t *t, const char *fmt, ...)
{
    if (t->failed) {
        return;
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *nb = cw_realloc(t->buf, cap);
        if (nb == NULL) {
            t->failed = 1;
            return;
        }
        t->buf = nb;
        t->cap = cap;
    }
}

static const char *route_name(size_t i)
{
    return i < cw__n_routes ? cw__routes[i].name : "unmatched";
}

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (f == NULL) {
        return 0;
    }
    int ok = fscanf(f, "%llu %llu", &size, &resident) == 2;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

char *cw__metrics_text(cw_server_t *s, size_t *len)
{
    text_t t = {cw_malloc(16384), 0, 16384, 0};
    if (t.buf == NULL) {
        return NULL;
    }
    size_t n_rows = cw__n_routes + 1;
    put(&t, "# HELP clearway_http_requests_total HTTP requests answered, by route and status.\n"
            "# TYPE clearway_http_requests_total counter\n");
    for (size_t i = 0; i < n_rows; i++) {
        for (int k = 0; k < CW__N_STATUS; k++) {
            uint64_t v = atomic_load(&s->metrics[i].by_status[k]);
            if (v == 0) {
                continue;
            }
            char st[8];
            snprintf(st, sizeof(st), "%d", k < CW__N_STATUS - 1 ? statuses[k] : 0);
            put(&t, "clearway_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                route_name(i), k < CW__N_STATUS - 1 ? st : "other", (unsigned long long)v);
        }
    }
    put(&t, "# HELP clearway_http_request_duration_seconds Time from the request's headers to "
            "its completion, by route.\n"
            "# TYPE clearway_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < n_rows; i++) {
        uint64_t cum = 0, count = atomic_load(&s->metrics[i].count);
        for (int b = 0; b < CW__N_BUCKETS; b++) {
            cum += atomic_load(&s->metrics[i].bucket[b]);
            put(&t, "clearway_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                route_name(i), bounds[b], (unsigned long long)cum);
        }
        put(&t,
            "clearway_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
            "clearway_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
            "clearway_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
            route_name(i), (unsigned long long)count, route_name(i),
            (double)atomic_load(&s->metrics[i].sum_us) * 1e-6, route_name(i),
            (unsigned long long)count);
    }
    put(&t,
        "# HELP clearway_http_requests_in_flight Requests being processed.\n"
        "# TYPE clearway_http_requests_in_flight gauge\n"
        "clearway_http_requests_in_flight %d\n",
        atomic_load(&s->in_flight));

    cw_clearance_stats_t cs;
    memset(&cs, 0, sizeof(cs));
    cw_clearance_stats(s->clr, &cs);
    put(&t, "# HELP clearway_decisions_total Transactions ended, by programme and reason "
            "(NONE: cleared).\n"
            "# TYPE clearway_decisions_total counter\n");
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        for (int k = 0; k < CW_REASON_N; k++) {
            if (cs.decisions[p][k] > 0) {
                put(&t, "clearway_decisions_total{programme=\"%s\",reason=\"%s\"} %llu\n",
                    cw_programme_name((cw_programme_t)p), cw_reason_name((cw_reason_t)k),
                    (unsigned long long)cs.decisions[p][k]);
            }
        }
    }
    put(&t, "# HELP clearway_cleared_total Transactions cleared (rear gate opened), by "
            "programme.\n"
            "# TYPE clearway_cleared_total counter\n");
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        put(&t, "clearway_cleared_total{programme=\"%s\"} %llu\n",
            cw_programme_name((cw_programme_t)p), (unsigned long long)cs.cleared[p]);
    }
    static const cw_programme_t one_to_n[] = {CW_PROGRAMME_DOCUMENT_FREE, CW_PROGRAMME_FLIGHT_TOKEN,
                                              CW_PROGRAMME_CLOSED_AREA};
    put(&t, "# HELP clearway_gallery_size Face templates in each 1:N gallery.\n"
            "# TYPE clearway_gallery_size gauge\n");
    for (size_t i = 0; i < 3; i++) {
        put(&t, "clearway_gallery_size{programme=\"%s\"} %llu\n", cw_programme_name(one_to_n[i]),
            (unsigned long long)cs.gallery_n[one_to_n[i]]);
    }
    put(&t, "# HELP clearway_gallery_population_cap Largest gallery face-only 1:N is allowed "
            "on (0: none).\n"
            "# TYPE clearway_gallery_population_cap gauge\n");
    for (size_t i = 0; i < 3; i++) {
        put(&t, "clearway_gallery_population_cap{programme=\"%s\"} %llu\n",
            cw_programme_name(one_to_n[i]), (unsigned long long)cs.population_cap[one_to_n[i]]);
    }
    put(&t,
        "# HELP clearway_open_transactions Gate transactions in progress.\n"
        "# TYPE clearway_open_transactions gauge\n"
        "clearway_open_transactions %llu\n"
        "# HELP clearway_transactions_expired_total Transactions referred by the maintenance "
        "tick for exceeding their timeout.\n"
        "# TYPE clearway_transactions_expired_total counter\n"
        "clearway_transactions_expired_total %llu\n"
        "# HELP clearway_retention_purged_total Memberships ended by retention.\n"
        "# TYPE clearway_retention_purged_total counter\n"
        "clearway_retention_purged_total %llu\n"
        "# HELP clearway_maintenance_errors_total Maintenance ticks that failed.\n"
        "# TYPE clearway_maintenance_errors_total counter\n"
        "clearway_maintenance_errors_total %llu\n"
        "# HELP clearway_audit_failures_total Requests whose audit entry could not be written.\n"
        "# TYPE clearway_audit_failures_total counter\n"
        "clearway_audit_failures_total %llu\n"
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\n"
        "process_resident_memory_bytes %llu\n"
        "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n"
        "# TYPE process_start_time_seconds gauge\n"
        "process_start_time_seconds %lld\n",
        (unsigned long long)cs.open_transactions, (unsigned long long)atomic_load(&s->expired),
        (unsigned long long)atomic_load(&s->purged),
        (unsigned long long)atomic_load(&s->maintenance_errors),
        (unsigned long long)atomic_load(&s->audit_failures), (unsigned long long)rss_bytes(),
        (long long)s->started_at);
    if (t.failed) {
        cw_free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}

double cw__histogram_quantile(const double *b, const uint64_t *counts, int n, uint64_t over,
                              double q)
{
    uint64_t total = over;
    for (int i = 0; i < n; i++) {
        total += counts[i];
    }
    if (total == 0 || n <= 0) {
        return 0;
    }
    double rank = q * (double)total, cum = 0;
    for (int i = 0; i < n; i++) {
        double next = cum + (double)counts[i];
        if (next >= rank && counts[i] > 0) {
            double lo = i > 0 ? b[i - 1] : 0;
            return lo + (b[i] - lo) * (rank - cum) / (double)counts[i];
        }
        cum = next;
    }
    return b[n - 1]; // in the open bucket: all that is known is that it is above the last bound
}

void cw__metrics_live(cw_server_t *s, cw__live_t *out)
{
    memset(out, 0, sizeof(*out));
    cw_clearance_stats_t cs;
    memset(&cs, 0, sizeof(cs));
    cw_clearance_stats(s->clr, &cs);
    static const cw_programme_t one_to_n[] = {CW_PROGRAMME_DOCUMENT_FREE, CW_PROGRAMME_FLIGHT_TOKEN,
                                              CW_PROGRAMME_CLOSED_AREA};
    for (int i = 0; i < 3; i++) {
        out->programme[i] = one_to_n[i];
        out->size[i] = cs.gallery_n[one_to_n[i]];
        out->cap[i] = cs.population_cap[one_to_n[i]];
    }
    out->n_galleries = 3;
    out->open_transactions = cs.open_transactions;
    // The steps that can end in a decision; txn_begin and txn_abandon decide nothing.
    static const char *const steps[] = {"txn_face", "txn_document", "txn_confirm", "txn_inside"};
    uint64_t counts[CW__N_BUCKETS] = {0}, in_buckets = 0, total = 0;
    for (size_t i = 0; i < cw__n_routes; i++) {
        for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
            if (strcmp(cw__routes[i].name, steps[k]) != 0) {
                continue;
            }
            // count is read before the buckets: a request finishing meanwhile shows in a bucket
            // only, never as an observation above the last bound.
            total += atomic_load(&s->metrics[i].count);
            for (int b = 0; b < CW__N_BUCKETS; b++) {
                uint64_t v = atomic_load(&s->metrics[i].bucket[b]);
                counts[b] += v;
                in_buckets += v;
            }
        }
    }
    uint64_t over = total > in_buckets ? total - in_buckets : 0;
    out->count = in_buckets + over;
    out->p50_ms = 1000 * cw__histogram_quantile(bounds, counts, CW__N_BUCKETS, over, 0.5);
    out->p99_ms = 1000 * cw__histogram_quantile(bounds, counts, CW__N_BUCKETS, over, 0.99);
}
