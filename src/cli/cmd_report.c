// SPDX-License-Identifier: Apache-2.0
// `clearway report` and `clearway passengers set`: the dashboard's figures on the command line,
// read from the store directly (read-only): per local day, port and programme the transactions,
// the travellers cleared (the mode's users), the referrals and the fallback-to-officer rate,
// the users' share of the port's passengers where the operator's totals were entered, and the
// referrals by reason over the range; and the entry of those totals without the server.
#include "cli.h"

#include "clearway/clearance.h"
#include "clearway/clearway.h"
#include "clearway/store.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int run_report(int argc, char **argv);
static int run_passengers(int argc, char **argv);

const cw_cli_command_t cw_cmd_report = {
    "report",
    "Clearances per day, port and mode, fallback rates and shares of passengers",
    "Usage: clearway report --db PATH|postgresql://URL --from YYYY-MM-DD --to YYYY-MM-DD\n"
    "                       [--port CODE] [--format text|csv|json] [--key-file FILE]\n"
    "\n"
    "Reads the store (read-only) and prints, for each local (UTC+8) day from --from to --to\n"
    "(both included, at most ten years), port and programme:\n"
    "  transactions  gate transactions started that day\n"
    "  cleared       travellers the mode cleared (its users)\n"
    "  referred      sent to an officer; rejected and still-open transactions are shown too\n"
    "  fallback      referred / (cleared + referred + rejected): the fallback-to-officer rate\n"
    "  share         cleared / passengers of that port and day, when the operator's totals were\n"
    "                entered (`clearway passengers set`, or PUT "
    "/v1/ports/{port}/passengers/{day})\n"
    "and the referrals by reason over the whole range.\n"
    "\n"
    "The share's denominator follows the statistic authorities publish. Smart Departure and\n"
    "Flight Token serve departing passengers only (the e-passport departure channel, the\n"
    "check-in-to-boarding token), so their users are a share of DEPARTING passengers; the\n"
    "document-free channel, the contactless e-channel and closed-area clearance serve both\n"
    "directions, so theirs are a share of ALL passengers (departing + arriving).\n"
    "\n"
    "  --port CODE     one port (default: every port)\n"
    "  --format F      text (default), csv (one table with a header row; the first column,\n"
    "                  kind, is clearances, passengers or referrals) or json (one object)\n"
    "  --key-file FILE the store's key file (default: CLEARWAY_KEY, else DB.key for SQLite)\n"
    "\n"
    "Exit status: 0 done, 1 the store could not be read, 2 bad command line.\n",
    run_report,
    NULL,
};

const cw_cli_command_t cw_cmd_passengers = {
    "passengers",
    "Enter a port operator's passenger totals of a day",
    "Usage: clearway passengers set --db DB --port CODE --day YYYY-MM-DD --departing N\n"
    "                               --arriving N [--actor NAME] [--key-file FILE]\n"
    "\n"
    "Sets (or corrects: the day's earlier figures are replaced) the departing and arriving\n"
    "passengers of a port on a local (UTC+8) day, the denominators of `clearway report`'s\n"
    "share. Counts are whole numbers 0..100000000. Audited with NAME (default \"clearway\n"
    "passengers\").\n"
    "\n"
    "Exit status: 0 done, 1 failure (e.g. no such port), 2 bad command line.\n",
    run_passengers,
    NULL,
};

static int open_store(const char *name, const char *db, const char *key_file, int read_only,
                      cw_store_t **st)
{
    char diag[256] = "";
    cw_store_config_t cfg = {0};
    cfg.key_file = key_file;
    cfg.read_only = read_only;
    int err = cw_store_open(db, &cfg, st, diag, sizeof(diag));
    if (err != 0) {
        fprintf(stderr, "clearway %s: cannot open %s: %s (%s)\n", name, db, diag, cw_err_name(err));
        return -1;
    }
    return 0;
}

// ---- passengers set ----

static int parse_count(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < 0 || v > CW_STORE_PASSENGERS_MAX) {
        return -1;
    }
    *out = v;
    return 0;
}

static int run_passengers(int argc, char **argv)
{
    const char *db = NULL, *port = NULL, *day_s = NULL, *key_file = NULL,
               *actor = "clearway passengers";
    int64_t dep = -1, arr = -1;
    if (argc < 2 || strcmp(argv[1], "set") != 0) {
        return cw_cli_usage_error("passengers", "expected `set`");
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            return cw_cli_usage_error("passengers", "unknown argument '%s'", a);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--db") == 0) {
            db = v;
        } else if (strcmp(a, "--port") == 0) {
            port = v;
        } else if (strcmp(a, "--day") == 0) {
            day_s = v;
        } else if (strcmp(a, "--key-file") == 0) {
            key_file = v;
        } else if (strcmp(a, "--actor") == 0) {
            actor = v;
        } else if (strcmp(a, "--departing") == 0 || strcmp(a, "--arriving") == 0) {
            if (parse_count(v, a[2] == 'd' ? &dep : &arr) != 0) {
                return cw_cli_usage_error("passengers", "%s must be a whole number 0..%d", a,
                                          CW_STORE_PASSENGERS_MAX);
            }
        } else {
            return cw_cli_usage_error("passengers", "unknown argument '%s'", a);
        }
    }
    if (db == NULL || port == NULL || day_s == NULL || dep < 0 || arr < 0) {
        return cw_cli_usage_error("passengers",
                                  "--db, --port, --day, --departing and --arriving are required");
    }
    cw_date_t day;
    if (cw_date_parse(day_s, &day) != 0) {
        return cw_cli_usage_error("passengers", "--day must be a real date YYYY-MM-DD, not '%s'",
                                  day_s);
    }
    cw_store_t *st;
    if (open_store("passengers", db, key_file, 0, &st) != 0) {
        return CW_EXIT_FAIL;
    }
    char diag[256] = "";
    int err = cw_store_passengers_set(st, port, &day, dep, arr, (int64_t)time(NULL), actor, diag,
                                      sizeof(diag));
    cw_store_close(st);
    if (err != 0) {
        fprintf(stderr, "clearway passengers: %s (%s)\n", diag, cw_err_name(err));
        return CW_EXIT_FAIL;
    }
    printf("%s %s: %lld departing, %lld arriving\n", port, day_s, (long long)dep, (long long)arr);
    return CW_EXIT_OK;
}

// ---- report ----

typedef struct group {
    cw_date_t day;
    char port[CW_STORE_CODE_MAX];
    cw_programme_t programme;
    uint64_t transactions, cleared, referred, rejected, open;
} group_t;

typedef struct reason {
    cw_programme_t programme;
    char reason[CW_STORE_REASON_MAX];
    uint64_t count;
} reason_t;

typedef struct report {
    group_t *groups;
    size_t n_groups, cap_groups;
    reason_t *reasons;
    size_t n_reasons, cap_reasons;
    cw_store_passengers_t *pax;
    size_t n_pax, cap_pax;
} report_t;

// Grow *arr (of elem-byte items) to hold one more; -1 when out of memory.
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) {
        return 0;
    }
    size_t nc = *cap > 0 ? *cap * 2 : 64;
    void *p = realloc(*arr, nc * elem);
    if (p == NULL) {
        return -1;
    }
    *arr = p;
    *cap = nc;
    return 0;
}

static int same_day(const cw_date_t *a, const cw_date_t *b)
{
    return a->year == b->year && a->month == b->month && a->day == b->day;
}

// Rows come sorted by day, port, programme, decision, reason: a group is a run of rows.
static int collect_row(void *ctx, const cw_store_report_row_t *row)
{
    report_t *r = ctx;
    group_t *g = r->n_groups > 0 ? &r->groups[r->n_groups - 1] : NULL;
    if (g == NULL || !same_day(&g->day, &row->day) || strcmp(g->port, row->port) != 0 ||
        g->programme != row->programme) {
        if (grow((void **)&r->groups, &r->cap_groups, r->n_groups, sizeof(group_t)) != 0) {
            return CW_ENOMEM;
        }
        g = &r->groups[r->n_groups++];
        memset(g, 0, sizeof(*g));
        g->day = row->day;
        memcpy(g->port, row->port, sizeof(g->port));
        g->programme = row->programme;
    }
    g->transactions += row->count;
    switch (row->decision) {
    case CW_CLEARANCE_CLEARED:
        g->cleared += row->count;
        break;
    case CW_CLEARANCE_REFERRED:
        g->referred += row->count;
        break;
    case CW_CLEARANCE_REJECTED:
        g->rejected += row->count;
        break;
    default:
        g->open += row->count;
        break;
    }
    if (row->decision != CW_CLEARANCE_REFERRED) {
        return 0;
    }
    for (size_t i = 0; i < r->n_reasons; i++) {
        if (r->reasons[i].programme == row->programme &&
            strcmp(r->reasons[i].reason, row->reason) == 0) {
            r->reasons[i].count += row->count;
            return 0;
        }
    }
    if (grow((void **)&r->reasons, &r->cap_reasons, r->n_reasons, sizeof(reason_t)) != 0) {
        return CW_ENOMEM;
    }
    reason_t *n = &r->reasons[r->n_reasons++];
    n->programme = row->programme;
    memcpy(n->reason, row->reason, sizeof(n->reason));
    n->count = row->count;
    return 0;
}

static int collect_pax(void *ctx, const cw_store_passengers_t *row)
{
    report_t *r = ctx;
    if (grow((void **)&r->pax, &r->cap_pax, r->n_pax, sizeof(*row)) != 0) {
        return CW_ENOMEM;
    }
    r->pax[r->n_pax++] = *row;
    return 0;
}

static int reason_cmp(const void *a, const void *b)
{
    const reason_t *x = a, *y = b;
    if (x->programme != y->programme) {
        return x->programme < y->programme ? -1 : 1;
    }
    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1; // most frequent first
    }
    return strcmp(x->reason, y->reason);
}

static long day_key(const cw_date_t *d)
{
    return (long)d->year * 10000 + d->month * 100 + d->day;
}

// The operator's totals for a group's day and port (the list is sorted by day, then port).
static const cw_store_passengers_t *find_pax(const report_t *r, const group_t *g)
{
    size_t lo = 0, hi = r->n_pax;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const cw_store_passengers_t *p = &r->pax[mid];
        long c = day_key(&p->day) - day_key(&g->day);
        int s = c != 0 ? (c < 0 ? -1 : 1) : strcmp(p->port, g->port);
        if (s == 0) {
            return p;
        }
        if (s < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static int departing_only(cw_programme_t p)
{
    return p == CW_PROGRAMME_SMART_DEPARTURE || p == CW_PROGRAMME_FLIGHT_TOKEN;
}

// The figures derived from a group: the fallback rate and the share (negative: none).
typedef struct derived {
    double fallback, share;
    int64_t denominator; // -1: no totals entered
} derived_t;

static derived_t derive(const report_t *r, const group_t *g)
{
    derived_t d = {-1, -1, -1};
    uint64_t decided = g->cleared + g->referred + g->rejected;
    if (decided > 0) {
        d.fallback = (double)g->referred / (double)decided;
    }
    const cw_store_passengers_t *p = find_pax(r, g);
    if (p != NULL) {
        d.denominator = departing_only(g->programme) ? p->departing : p->departing + p->arriving;
        if (d.denominator > 0) {
            d.share = (double)g->cleared / (double)d.denominator;
        }
    }
    return d;
}

// A CSV field, quoted when it holds a comma, a quote, a line break or leading/trailing space.
static void csv_text(const char *s)
{
    size_t n = strlen(s);
    if (strpbrk(s, ",\"\r\n") == NULL && (n == 0 || (s[0] != ' ' && s[n - 1] != ' '))) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s != '\0'; s++) {
        if (*s == '"') {
            putchar('"');
        }
        putchar(*s);
    }
    putchar('"');
}

static void csv_ratio(double v)
{
    if (v >= 0) {
        printf("%.6f", v);
    }
}

static void format_day(const cw_date_t *d, char out[16])
{
    snprintf(out, 16, "%04d-%02d-%02d", d->year, d->month, d->day);
}

static void print_csv(const report_t *r)
{
    puts("kind,day,port,programme,reason,transactions,cleared,referred,rejected,open,"
         "fallback_rate,share_of,passengers,share,departing,arriving");
    char day[16];
    for (size_t i = 0; i < r->n_groups; i++) {
        const group_t *g = &r->groups[i];
        derived_t d = derive(r, g);
        format_day(&g->day, day);
        printf("clearances,%s,", day);
        csv_text(g->port);
        printf(",%s,,%llu,%llu,%llu,%llu,%llu,", cw_programme_name(g->programme),
               (unsigned long long)g->transactions, (unsigned long long)g->cleared,
               (unsigned long long)g->referred, (unsigned long long)g->rejected,
               (unsigned long long)g->open);
        csv_ratio(d.fallback);
        printf(",%s,", departing_only(g->programme) ? "departing" : "all");
        if (d.denominator >= 0) {
            printf("%lld", (long long)d.denominator);
        }
        putchar(',');
        csv_ratio(d.share);
        puts(",,");
    }
    for (size_t i = 0; i < r->n_pax; i++) {
        const cw_store_passengers_t *p = &r->pax[i];
        format_day(&p->day, day);
        printf("passengers,%s,", day);
        csv_text(p->port);
        printf(",,,,,,,,,,,,%lld,%lld\n", (long long)p->departing, (long long)p->arriving);
    }
    for (size_t i = 0; i < r->n_reasons; i++) {
        const reason_t *x = &r->reasons[i];
        printf("referrals,,,%s,", cw_programme_name(x->programme));
        csv_text(x->reason);
        printf(",,,%llu,,,,,,,,\n", (unsigned long long)x->count);
    }
}

static json_t *ratio_json(double v)
{
    return v >= 0 ? json_real(v) : json_null();
}

static int print_json(const report_t *r, const char *from, const char *to, const char *port)
{
    json_t *o = json_object(), *days = json_array(), *pax = json_array(), *reasons = json_array();
    char day[16];
    for (size_t i = 0; i < r->n_groups; i++) {
        const group_t *g = &r->groups[i];
        derived_t d = derive(r, g);
        format_day(&g->day, day);
        json_t *e = json_object();
        json_object_set_new(e, "day", json_string(day));
        json_object_set_new(e, "port", json_string(g->port));
        json_object_set_new(e, "programme", json_string(cw_programme_name(g->programme)));
        json_object_set_new(e, "transactions", json_integer((json_int_t)g->transactions));
        json_object_set_new(e, "cleared", json_integer((json_int_t)g->cleared));
        json_object_set_new(e, "referred", json_integer((json_int_t)g->referred));
        json_object_set_new(e, "rejected", json_integer((json_int_t)g->rejected));
        json_object_set_new(e, "open", json_integer((json_int_t)g->open));
        json_object_set_new(e, "fallback_rate", ratio_json(d.fallback));
        json_object_set_new(e, "share_of",
                            json_string(departing_only(g->programme) ? "departing" : "all"));
        json_object_set_new(e, "passengers",
                            d.denominator >= 0 ? json_integer(d.denominator) : json_null());
        json_object_set_new(e, "share", ratio_json(d.share));
        json_array_append_new(days, e);
    }
    for (size_t i = 0; i < r->n_pax; i++) {
        format_day(&r->pax[i].day, day);
        json_array_append_new(pax,
                              json_pack("{s:s, s:s, s:I, s:I}", "day", day, "port", r->pax[i].port,
                                        "departing", (json_int_t)r->pax[i].departing, "arriving",
                                        (json_int_t)r->pax[i].arriving));
    }
    for (size_t i = 0; i < r->n_reasons; i++) {
        json_array_append_new(reasons, json_pack("{s:s, s:s, s:I}", "programme",
                                                 cw_programme_name(r->reasons[i].programme),
                                                 "reason", r->reasons[i].reason, "count",
                                                 (json_int_t)r->reasons[i].count));
    }
    json_object_set_new(o, "from", json_string(from));
    json_object_set_new(o, "to", json_string(to));
    json_object_set_new(o, "port", port != NULL ? json_string(port) : json_null());
    json_object_set_new(o, "days", days);
    json_object_set_new(o, "passengers", pax);
    json_object_set_new(o, "referrals", reasons);
    int rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
    putchar('\n');
    json_decref(o);
    return rc;
}

static void text_pct(char *buf, size_t cap, double v)
{
    if (v < 0) {
        snprintf(buf, cap, "-");
    } else {
        snprintf(buf, cap, "%.2f%%", 100 * v);
    }
}

static void print_text(const report_t *r, const char *from, const char *to, const char *port)
{
    printf("Clearances %s to %s, %s%s (local days, UTC+8)\n\n", from, to,
           port != NULL ? "port " : "every port", port != NULL ? port : "");
    if (r->n_groups == 0) {
        printf("no transactions\n");
    } else {
        printf("%-10s  %-8s  %-15s  %8s  %8s  %8s  %8s  %8s  %8s  %-9s  %10s  %7s\n", "day", "port",
               "programme", "txns", "cleared", "referred", "rejected", "open", "fallback",
               "share of", "passengers", "share");
    }
    char day[16], fb[16], sh[16], den[24];
    for (size_t i = 0; i < r->n_groups; i++) {
        const group_t *g = &r->groups[i];
        derived_t d = derive(r, g);
        format_day(&g->day, day);
        text_pct(fb, sizeof(fb), d.fallback);
        text_pct(sh, sizeof(sh), d.share);
        if (d.denominator >= 0) {
            snprintf(den, sizeof(den), "%lld", (long long)d.denominator);
        } else {
            snprintf(den, sizeof(den), "-");
        }
        printf("%-10s  %-8s  %-15s  %8llu  %8llu  %8llu  %8llu  %8llu  %8s  %-9s  %10s  %7s\n", day,
               g->port, cw_programme_name(g->programme), (unsigned long long)g->transactions,
               (unsigned long long)g->cleared, (unsigned long long)g->referred,
               (unsigned long long)g->rejected, (unsigned long long)g->open, fb,
               departing_only(g->programme) ? "departing" : "all", den, sh);
    }
    printf("\nPassenger totals (port operator)\n");
    if (r->n_pax == 0) {
        printf("none entered: `clearway passengers set` gives the shares\n");
    } else {
        printf("%-10s  %-8s  %10s  %10s\n", "day", "port", "departing", "arriving");
    }
    for (size_t i = 0; i < r->n_pax; i++) {
        format_day(&r->pax[i].day, day);
        printf("%-10s  %-8s  %10lld  %10lld\n", day, r->pax[i].port, (long long)r->pax[i].departing,
               (long long)r->pax[i].arriving);
    }
    printf("\nReferrals by reason, %s to %s\n", from, to);
    if (r->n_reasons == 0) {
        printf("none\n");
    } else {
        printf("%-15s  %-20s  %8s\n", "programme", "reason", "count");
    }
    for (size_t i = 0; i < r->n_reasons; i++) {
        printf("%-15s  %-20s  %8llu\n", cw_programme_name(r->reasons[i].programme),
               r->reasons[i].reason[0] != '\0' ? r->reasons[i].reason : "(none)",
               (unsigned long long)r->reasons[i].count);
    }
}

// Days from 1970-01-01 to a date (Howard Hinnant's days_from_civil).
static int64_t days_from_civil(const cw_date_t *d)
{
    int y = d->year - (d->month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (d->month + (d->month > 2 ? -3 : 9)) + 2) / 5 + d->day - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int run_report(int argc, char **argv)
{
    const char *db = NULL, *from = NULL, *to = NULL, *port = NULL, *format = "text",
               *key_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = strcmp(a, "--db") == 0         ? &db
                           : strcmp(a, "--from") == 0     ? &from
                           : strcmp(a, "--to") == 0       ? &to
                           : strcmp(a, "--port") == 0     ? &port
                           : strcmp(a, "--format") == 0   ? &format
                           : strcmp(a, "--key-file") == 0 ? &key_file
                                                          : NULL;
        if (dst == NULL) {
            return cw_cli_usage_error("report", "unknown argument '%s'", a);
        }
        if (i + 1 >= argc) {
            return cw_cli_usage_error("report", "%s needs a value", a);
        }
        *dst = argv[++i];
    }
    if (db == NULL || from == NULL || to == NULL) {
        return cw_cli_usage_error("report", "--db, --from and --to are required");
    }
    cw_date_t df, dt;
    if (cw_date_parse(from, &df) != 0) {
        return cw_cli_usage_error("report", "--from must be a real date YYYY-MM-DD, not '%s'",
                                  from);
    }
    if (cw_date_parse(to, &dt) != 0) {
        return cw_cli_usage_error("report", "--to must be a real date YYYY-MM-DD, not '%s'", to);
    }
    int64_t day_from = days_from_civil(&df), day_to = days_from_civil(&dt);
    if (day_to < day_from) {
        return cw_cli_usage_error("report", "--to (%s) is before --from (%s)", to, from);
    }
    if (day_to - day_from >= 3700) {
        return cw_cli_usage_error("report", "the range is longer than ten years");
    }
    if (strcmp(format, "text") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
        return cw_cli_usage_error("report", "--format must be text, csv or json");
    }
    cw_store_t *st;
    if (open_store("report", db, key_file, 1, &st) != 0) {
        return CW_EXIT_FAIL;
    }
    report_t r;
    memset(&r, 0, sizeof(r));
    char diag[256] = "";
    // Local midnight (UTC+8) of --from to that of the day after --to.
    int64_t t0 = day_from * 86400 - 8 * 3600, t1 = (day_to + 1) * 86400 - 8 * 3600;
    int err = cw_store_report_each(st, t0, t1, port, collect_row, &r, diag, sizeof(diag));
    if (err == 0) {
        err = cw_store_passengers_each(st, &df, &dt, port, collect_pax, &r, diag, sizeof(diag));
    }
    cw_store_close(st);
    int rc = CW_EXIT_OK;
    if (err != 0) {
        fprintf(stderr, "clearway report: %s (%s)\n", err == CW_ENOMEM ? "out of memory" : diag,
                cw_err_name(err));
        rc = CW_EXIT_FAIL;
    } else {
        if (r.n_reasons > 1) {
            qsort(r.reasons, r.n_reasons, sizeof(*r.reasons), reason_cmp);
        }
        if (strcmp(format, "csv") == 0) {
            print_csv(&r);
        } else if (strcmp(format, "json") == 0) {
            rc = print_json(&r, from, to, port) == 0 ? CW_EXIT_OK : CW_EXIT_FAIL;
        } else {
            print_text(&r, from, to, port);
        }
        if (fflush(stdout) != 0) {
            rc = CW_EXIT_FAIL;
        }
    }
    free(r.groups);
    free(r.reasons);
    free(r.pax);
    return rc;
}
