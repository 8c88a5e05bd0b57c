// SPDX-License-Identifier: Apache-2.0
// The clearance service: the shared face engine and galleries, a fixed pool of workers (a face
// session and a store handle each, so steps of different transactions run side by side), and
// the open transactions. A step takes its transaction out of the table for the time it runs
// (busy), so the heavy work happens without the table's lock and a second step of the same
// transaction is refused instead of racing. Whatever goes wrong inside a step ends the
// transaction as a referral: a gate never opens on an error.
#include "clearance_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"
#include "clearway/log.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

double cw__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- workers ---- */

cw__worker_t *cw__worker_take(cw_clearance_t *c)
{
    pthread_mutex_lock(&c->worker_lock);
    while (c->n_free == 0) {
        pthread_cond_wait(&c->worker_free, &c->worker_lock);
    }
    cw__worker_t *w = &c->workers[c->free_workers[--c->n_free]];
    pthread_mutex_unlock(&c->worker_lock);
    return w;
}

void cw__worker_give(cw_clearance_t *c, cw__worker_t *w)
{
    pthread_mutex_lock(&c->worker_lock);
    c->free_workers[c->n_free++] = (int)(w - c->workers);
    pthread_cond_signal(&c->worker_free);
    pthread_mutex_unlock(&c->worker_lock);
}

int cw_clearance_with_store(cw_clearance_t *c, cw_clearance_store_fn fn, void *ctx)
{
    if (c == NULL || fn == NULL) {
        return CW_EINVAL;
    }
    cw__worker_t *w = cw__worker_take(c);
    int err = fn(ctx, w->st);
    cw__worker_give(c, w);
    return err;
}

/* ---- galleries ---- */

static int holds(const cw_store_traveller_t *t, cw_programme_t p, const cw_store_membership_t **m)
{
    for (int i = 0; i < t->n_memberships; i++) {
        if (t->memberships[i].programme == p) {
            if (m != NULL) {
                *m = &t->memberships[i];
            }
            return 1;
        }
    }
    return 0;
}

static int ft_track(cw_clearance_t *c, uint64_t traveller, int64_t departure)
{
    for (size_t i = 0; i < c->ft_n; i++) {
        if (c->ft_traveller[i] == traveller) {
            c->ft_departure[i] = departure;
            return 0;
        }
    }
    if (c->ft_n == c->ft_cap) {
        size_t cap = c->ft_cap == 0 ? 64 : c->ft_cap * 2;
        uint64_t *tr = cw_malloc(cap * sizeof(*tr));
        int64_t *dep = cw_malloc(cap * sizeof(*dep));
        if (tr == NULL || dep == NULL) {
            cw_free(tr);
            cw_free(dep);
            return CW_ENOMEM;
        }
        if (c->ft_n > 0) {
            memcpy(tr, c->ft_traveller, c->ft_n * sizeof(*tr));
            memcpy(dep, c->ft_departure, c->ft_n * sizeof(*dep));
        }
        cw_free(c->ft_traveller);
        cw_free(c->ft_departure);
        c->ft_traveller = tr;
        c->ft_departure = dep;
        c->ft_cap = cap;
    }
    c->ft_traveller[c->ft_n] = traveller;
    c->ft_departure[c->ft_n] = departure;
    c->ft_n++;
    return 0;
}

/* Caller holds gallery_write. */
static int gallery_put(cw_clearance_t *c, cw_programme_t p, uint64_t traveller,
                       const cw_store_membership_t *m, const float *v)
{
    int err = cw_gallery_add(c->gallery[p], traveller, v);
    if (err == CW_EEXIST) {
        err = cw_gallery_update(c->gallery[p], traveller, v);
    }
    if (err == 0 && p == CW_PROGRAMME_FLIGHT_TOKEN) {
        err = ft_track(c, traveller, m->departure_at);
        if (err != 0) {
            (void)cw_gallery_remove(c->gallery[p], traveller);
        }
    }
    return err;
}

int cw__galleries_add(cw_clearance_t *c, const cw_store_traveller_t *t, const float *v)
{
    int err = 0;
    pthread_mutex_lock(&c->gallery_write);
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; err == 0 && p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        const cw_store_membership_t *m;
        if (holds(t, (cw_programme_t)p, &m)) {
            err = gallery_put(c, (cw_programme_t)p, t->id, m, v);
        }
    }
    pthread_mutex_unlock(&c->gallery_write);
    if (err != 0) {
        cw__galleries_remove(c, t->id);
    }
    return err;
}

void cw__galleries_remove(cw_clearance_t *c, uint64_t traveller)
{
    pthread_mutex_lock(&c->gallery_write);
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        (void)cw_gallery_remove(c->gallery[p], traveller);
    }
    pthread_mutex_unlock(&c->gallery_write);
}

typedef struct load_ctx {
    cw_clearance_t *c;
    cw_programme_t programme;
    int64_t now;
    uint64_t done;
} load_ctx_t;

static int load_row(void *arg, uint64_t traveller, const cw_store_membership_t *m,
                    const cw_store_template_t *t, const void *data, size_t len)
{
    load_ctx_t *l = arg;
    cw_clearance_t *c = l->c;
    if (t->model_id != c->model_id || t->model_version != c->model_version ||
        len != c->dim * sizeof(float)) {
        return 0; // another model's template: not comparable (re-enrolment needed)
    }
    if (l->programme == CW_PROGRAMME_FLIGHT_TOKEN && m->departure_at != 0 &&
        m->departure_at < l->now) {
        return 0; // the flight has left: the token is spent
    }
    float v[CW_FACE_MAX_DIM];
    memcpy(v, data, len);
    int err = gallery_put(c, l->programme, traveller, m, v);
    cw_memzero(v, sizeof(v));
    if (++l->done % 10000 == 0 && c != NULL) {
        CW_LOG_I("clearance", "%s gallery: %llu faces loaded", cw_programme_name(l->programme),
                 (unsigned long long)l->done);
    }
    return err;
}

static int load_galleries(cw_clearance_t *c, cw__worker_t *w, const cw_clearance_config_t *cfg,
                          char *diag, size_t diag_len)
{
    int64_t now = (int64_t)time(NULL);
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        cw_gallery_config_t gc = {c->dim, CW_MODALITY_FACE, c->model_id, c->model_version, 1024};
        int err = cw_gallery_create(&gc, &c->gallery[p]);
        if (err != 0) {
            return cw_diag_set(diag, diag_len, err, "cannot create the %s gallery",
                               cw_programme_name((cw_programme_t)p));
        }
        load_ctx_t l = {c, (cw_programme_t)p, now, 0};
        if (cfg->progress != NULL) {
            cfg->progress(cfg->progress_ctx, cw_programme_name((cw_programme_t)p), 0, 0);
        }
        pthread_mutex_lock(&c->gallery_write);
        err = cw_store_template_each_in(w->st, CW_MODALITY_FACE, (cw_programme_t)p, load_row, &l,
                                        diag, diag_len);
        pthread_mutex_unlock(&c->gallery_write);
        if (err != 0) {
            return err;
        }
        if (cfg->progress != NULL) {
            cfg->progress(cfg->progress_ctx, cw_programme_name((cw_programme_t)p), l.done, l.done);
        }
    }
    if (cfg->distractors != NULL) {
        int err = cw_gallery_load(cfg->distractors, &c->distractors, diag, diag_len);
        if (err != 0) {
            return err;
        }
        cw_gallery_config_t dc;
        cw_gallery_config(c->distractors, &dc);
        if (dc.dim != c->dim || dc.model_id != c->model_id ||
            dc.model_version != c->model_version) {
            return cw_diag_set(diag, diag_len, CW_EMISMATCH,
                               "distractors %s are of model %u v%u d=%u, the engine's are %u v%u "
                               "d=%u",
                               cfg->distractors, dc.model_id, dc.model_version, dc.dim, c->model_id,
                               c->model_version, c->dim);
        }
    }
    return 0;
}

/* ---- life cycle ---- */

int cw_clearance_create(const cw_clearance_config_t *cfg, cw_clearance_t **out, char *diag,
                        size_t diag_len)
{
    if (cfg == NULL || out == NULL || cfg->store == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    *out = NULL;
    if (sodium_init() < 0) {
        return cw_diag_set(diag, diag_len, CW_ECRYPTO, "libsodium failed to initialise");
    }
    cw_clearance_t *c = cw_calloc(1, sizeof(*c));
    if (c == NULL) {
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&c->gallery_write, NULL);
    pthread_mutex_init(&c->worker_lock, NULL);
    pthread_cond_init(&c->worker_free, NULL);
    pthread_mutex_init(&c->txn_lock, NULL);
    pthread_mutex_init(&c->stats_lock, NULL);
    int any_pad = 0;
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        cw_clearance_policy_t d;
        cw_clearance_policy_default((cw_programme_t)p, &d);
        const cw_clearance_policy_t *g = &cfg->policy[p];
        cw_clearance_policy_t *o = &c->policy[p];
        *o = d;
        if (g->gallery.target_fpir > 0) {
            o->gallery.target_fpir = g->gallery.target_fpir;
        }
        if (g->gallery.margin > 0) {
            o->gallery.margin = g->gallery.margin;
        }
        if (g->gallery.max_n > 0) {
            o->gallery.max_n = g->gallery.max_n;
        }
        o->max_captures = g->max_captures > 0 ? g->max_captures : d.max_captures;
        o->face_fmr = g->face_fmr > 0 ? g->face_fmr : d.face_fmr;
        o->finger_fmr = g->finger_fmr > 0 ? g->finger_fmr : d.finger_fmr;
        o->pad_max = g->pad_max > 0 ? g->pad_max : d.pad_max;
        o->token_min_gap = g->token_min_gap > 0 ? g->token_min_gap : d.token_min_gap;
        o->txn_timeout = g->txn_timeout > 0 ? g->txn_timeout : d.txn_timeout;
        any_pad |= o->pad_max > 0;
        c->stats.population_cap[p] = o->gallery.max_n;
    }
    c->limits.max_side = 4096;
    c->limits.max_pixels = 16L * 1000 * 1000;

    cw_face_config_t fc = cfg->face;
    fc.load_pad = fc.load_pad || any_pad;
    // A face whose eyes are under 32 px apart fails the capture checks anyway (about 75 px of
    // face box): not searching the detector's pyramid below 64 px saves most of its work on a
    // 640x480 gate frame.
    if (fc.min_face == 0) {
        fc.min_face = 64;
    }
    int err = cw_face_engine_create(&fc, &c->engine, diag, diag_len);
    if (err == 0) {
        cw_face_engine_model(c->engine, &c->model_id, &c->model_version, &c->dim);
        // Templates of this engine are flip-averaged unless the configuration turned it off.
        c->flags = fc.flip_average >= 0 ? CW_FACE_TEMPLATE_FLIP_AVERAGED : 0;
        c->have_calibration = cw_gallery_calibration_for(c->model_id, c->model_version, c->flags,
                                                         &c->calibration) == 0;
        if (!c->have_calibration) {
            CW_LOG_W("clearance",
                     "no calibration for face model %u v%u: every 1:N decision "
                     "will refer to an officer",
                     c->model_id, c->model_version);
        }
    }
    c->n_workers = cfg->workers > 0 ? cfg->workers : 2;
    if (err == 0) {
        c->workers = cw_calloc((size_t)c->n_workers, sizeof(*c->workers));
        c->free_workers = cw_calloc((size_t)c->n_workers, sizeof(int));
        if (c->workers == NULL || c->free_workers == NULL) {
            err = cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory");
        }
    }
    for (int i = 0; err == 0 && i < c->n_workers; i++) {
        err = cw_face_session_create(c->engine, &c->workers[i].face, diag, diag_len);
        if (err == 0) {
            err = cw_store_open(cfg->store, cfg->store_cfg, &c->workers[i].st, diag, diag_len);
        }
        if (err == 0) {
            c->free_workers[c->n_free++] = i;
        }
    }
    if (err == 0 && cfg->search_threads > 1) {
        err = cw_pool_create(cfg->search_threads - 1, &c->search_pool);
    }
    if (err == 0) {
        uint8_t seed[32];
        err = cw_store_signing_seed(c->workers[0].st, seed, diag, diag_len);
        if (err == 0) {
            err = cw_token_keypair(seed, c->token_pk, c->token_sk);
        }
        sodium_memzero(seed, sizeof(seed));
    }
    if (err == 0) {
        err = load_galleries(c, &c->workers[0], cfg, diag, diag_len);
    }
    if (err != 0) {
        cw_clearance_destroy(c);
        return err;
    }
    *out = c;
    return 0;
}

void cw_clearance_destroy(cw_clearance_t *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->n_txns; i++) {
        cw_free_wipe(c->txns[i].chip_face, sizeof(cw_face_template_t));
    }
    cw_free_wipe(c->txns, c->cap_txns * sizeof(*c->txns));
    for (int i = 0; c->workers != NULL && i < c->n_workers; i++) {
        cw_face_session_destroy(c->workers[i].face);
        cw_store_close(c->workers[i].st);
    }
    cw_free(c->workers);
    cw_free(c->free_workers);
    cw_pool_destroy(c->search_pool);
    for (int p = 0; p < CW__N_PROGRAMMES; p++) {
        cw_gallery_destroy(c->gallery[p]);
    }
    cw_gallery_destroy(c->distractors);
    cw_free(c->ft_traveller);
    cw_free(c->ft_departure);
    cw_face_engine_destroy(c->engine);
    pthread_mutex_destroy(&c->gallery_write);
    pthread_mutex_destroy(&c->worker_lock);
    pthread_cond_destroy(&c->worker_free);
    pthread_mutex_destroy(&c->txn_lock);
    pthread_mutex_destroy(&c->stats_lock);
    cw_free_wipe(c, sizeof(*c));
}

/* ---- statistics ---- */

void cw__stats_end(cw_clearance_t *c, cw_programme_t p, int cleared, cw_reason_t reason)
{
    if (p < CW_PROGRAMME_DOCUMENT_FREE || p > CW_PROGRAMME_CLOSED_AREA ||
        (unsigned)reason >= CW_REASON_N) {
        return;
    }
    pthread_mutex_lock(&c->stats_lock);
    if (cleared) {
        c->stats.cleared[p]++;
    } else {
        c->stats.decisions[p][reason]++;
    }
    pthread_mutex_unlock(&c->stats_lock);
}

void cw_clearance_stats(cw_clearance_t *c, cw_clearance_stats_t *out)
{
    pthread_mutex_lock(&c->stats_lock);
    *out = c->stats;
    pthread_mutex_unlock(&c->stats_lock);
    for (int p = CW_PROGRAMME_DOCUMENT_FREE; p <= CW_PROGRAMME_CLOSED_AREA; p++) {
        out->gallery_n[p] = cw_gallery_count(c->gallery[p]);
    }
    pthread_mutex_lock(&c->txn_lock);
    out->open_transactions = c->n_txns;
    pthread_mutex_unlock(&c->txn_lock);
}

/* ---- transactions ---- */

static cw__txn_t *txn_find(cw_clearance_t *c, uint64_t id)
{
    for (size_t i = 0; i < c->n_txns; i++) {
        if (c->txns[i].id == id) {
            return &c->txns[i];
        }
    }
    return NULL;
}

/* Caller holds txn_lock. */
static void txn_drop(cw_clearance_t *c, cw__txn_t *t)
{
    cw_free_wipe(t->chip_face, sizeof(cw_face_template_t));
    size_t i = (size_t)(t - c->txns);
    c->txns[i] = c->txns[--c->n_txns];
    cw_memzero(&c->txns[c->n_txns], sizeof(c->txns[0]));
}

static void reply_init(cw_clearance_reply_t *r, const cw__txn_t *t)
{
    memset(r, 0, sizeof(*r));
    r->txn = t->id;
    r->programme = t->programme;
    r->state = t->state;
}

int cw_clearance_begin(cw_clearance_t *c, uint64_t gate, int64_t now, const char *principal,
                       cw_clearance_reply_t *reply, char *diag, size_t diag_len)
{
    (void)principal; // the transaction's audit entry names the gate
    if (c == NULL || reply == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    cw__worker_t *w = cw__worker_take(c);
    cw_store_gate_t g;
    uint64_t id = 0;
    int err = cw_store_gate_get(w->st, gate, &g, diag, diag_len);
    if (err == 0 && g.programme == CW_PROGRAMME_FLIGHT_TOKEN &&
        (g.touchpoint < CW_TOUCHPOINT_BAG_DROP || g.touchpoint > CW_TOUCHPOINT_BOARDING)) {
        err = cw_diag_set(diag, diag_len, CW_EINVAL,
                          "gate %s.%s is a flight-token gate without a touchpoint", g.port_code,
                          g.code);
    }
    if (err == 0) {
        pthread_mutex_lock(&c->txn_lock);
        int full = c->n_txns >= CW__MAX_OPEN_TXNS;
        pthread_mutex_unlock(&c->txn_lock);
        if (full) {
            err = cw_diag_set(diag, diag_len, CW_EBUSY, "too many open transactions");
        }
    }
    if (err == 0) {
        err = cw_store_clearance_begin(w->st, gate, 0, g.programme, now, &id, diag, diag_len);
    }
    cw__worker_give(c, w);
    if (err != 0) {
        return err;
    }
    cw__txn_t t = {0};
    t.id = id;
    t.gate = gate;
    t.programme = g.programme;
    t.touchpoint = g.touchpoint;
    t.state = CW_TXN_AWAIT_IDENTITY;
    t.started_at = now;
    pthread_mutex_lock(&c->txn_lock);
    if (c->n_txns == c->cap_txns) {
        size_t cap = c->cap_txns == 0 ? 64 : c->cap_txns * 2;
        cw__txn_t *n = cw_calloc(cap, sizeof(*n));
        if (n == NULL) {
            pthread_mutex_unlock(&c->txn_lock);
            return cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory");
        }
        if (c->n_txns > 0) {
            memcpy(n, c->txns, c->n_txns * sizeof(*n));
        }
        cw_free_wipe(c->txns, c->cap_txns * sizeof(*c->txns));
        c->txns = n;
        c->cap_txns = cap;
    }
    c->txns[c->n_txns++] = t;
    pthread_mutex_unlock(&c->txn_lock);
    reply_init(reply, &t);
    reply->action = cw__first_action(t.programme);
    reply->captures_left = c->policy[t.programme].max_captures;
    return 0;
}

/* End txn t (not in the table) in the store: cleared or referred with reason. */
static int txn_finish(cw_clearance_t *c, cw__worker_t *w, cw__txn_t *t, int cleared,
                      cw_reason_t reason, int64_t now, char *diag, size_t diag_len)
{
    int err = cw_store_clearance_finish(
        w->st, t->id, now, cleared ? CW_CLEARANCE_CLEARED : CW_CLEARANCE_REFERRED,
        cleared ? "" : cw_reason_name(reason), t->traveller, diag, diag_len);
    cw__stats_end(c, t->programme, cleared, reason);
    return err;
}

int cw_clearance_step(cw_clearance_t *c, uint64_t gate, uint64_t txn,
                      const cw_clearance_event_t *ev, int64_t now, const char *principal,
                      cw_clearance_reply_t *reply, char *diag, size_t diag_len)
{
    if (c == NULL || ev == NULL || reply == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "missing argument");
    }
    // Take the transaction: copy it out and mark it busy.
    pthread_mutex_lock(&c->txn_lock);
    cw__txn_t *slot = txn_find(c, txn);
    if (slot == NULL || slot->gate != gate) {
        pthread_mutex_unlock(&c->txn_lock);
        return cw_diag_set(diag, diag_len, CW_ENOENT, "no open transaction %llu at this gate",
                           (unsigned long long)txn);
    }
    if (slot->busy) {
        pthread_mutex_unlock(&c->txn_lock);
        return cw_diag_set(diag, diag_len, CW_EBUSY, "transaction %llu is busy with a step",
                           (unsigned long long)txn);
    }
    const cw__transition_t *row = cw__transition_find(slot->programme, slot->state, ev->type);
    if (row == NULL) {
        pthread_mutex_unlock(&c->txn_lock);
        return cw_diag_set(diag, diag_len, CW_ESTATE, "%s is not accepted in state %s of %s",
                           cw_txn_event_name(ev->type), cw_txn_state_name(slot->state),
                           cw_programme_name(slot->programme));
    }
    // An event without what its step needs is the caller's error: nothing changes.
    int verr = cw__step_check(row->step, ev, diag, diag_len);
    if (verr != 0) {
        pthread_mutex_unlock(&c->txn_lock);
        return verr;
    }
    slot->busy = 1;
    cw__txn_t t = *slot;
    pthread_mutex_unlock(&c->txn_lock);

    double t0 = cw__now_ms();
    reply_init(reply, &t);
    cw__worker_t *w = cw__worker_take(c);
    int err = 0;
    cw__outcome_t o = cw__step_run(c, w, row->step, &t, ev, now, reply, &err, diag, diag_len);
    if (err != 0) {
        // Fail closed: an internal failure refers the traveller.
        CW_LOG_E("clearance", "transaction %llu: %s: %s (%s)", (unsigned long long)t.id,
                 cw_txn_event_name(ev->type), diag, cw_err_name(err));
        o = CW__REFER;
        reply->reason = CW_REASON_INTERNAL_ERROR;
    }
    if (o == CW__RETRY && t.captures >= c->policy[t.programme].max_captures) {
        o = CW__REFER;
        reply->reason = CW_REASON_RETRIES_EXHAUSTED;
    }
    char stepdiag[256] = "";
    int serr = 0;
    const char *step_name = cw_txn_event_name(ev->type);
    if (o == CW__RETRY) {
        char detail[160];
        snprintf(detail, sizeof(detail), "capture %d of %d refused: %s", t.captures,
                 c->policy[t.programme].max_captures, cw_reason_name(reply->reason));
        char subject[48];
        snprintf(subject, sizeof(subject), "clearance:%llu", (unsigned long long)t.id);
        serr = cw_store_clearance_step(w->st, t.id, now, step_name, cw_reason_name(reply->reason),
                                       NAN, stepdiag, sizeof(stepdiag));
        if (serr == 0) {
            serr = cw_store_audit_append(w->st, now, principal != NULL ? principal : "gate",
                                         "retry", subject, detail, stepdiag, sizeof(stepdiag));
        }
        if (serr != 0) {
            o = CW__REFER; // a retry that cannot be recorded is not allowed
            reply->reason = CW_REASON_INTERNAL_ERROR;
        }
    } else if (o == CW__OK) {
        serr = cw_store_clearance_step(w->st, t.id, now, step_name, "OK", NAN, stepdiag,
                                       sizeof(stepdiag));
        if (serr != 0) {
            o = CW__REFER;
            reply->reason = CW_REASON_INTERNAL_ERROR;
        }
    }
    cw_txn_state_t next = o == CW__OK ? row->next : o == CW__RETRY ? t.state : CW_TXN_REFERRED;
    int final = next == CW_TXN_CLEARED || next == CW_TXN_REFERRED;
    int ferr = 0;
    if (final) {
        if (o == CW__REFER) {
            reply->action = CW_ACTION_REFER_TO_OFFICER;
        }
        ferr = txn_finish(c, w, &t, next == CW_TXN_CLEARED, reply->reason, now, stepdiag,
                          sizeof(stepdiag));
        if (ferr != 0 && next == CW_TXN_CLEARED) {
            // The clearance could not be recorded: the gate stays shut.
            next = CW_TXN_REFERRED;
            reply->action = CW_ACTION_REFER_TO_OFFICER;
            reply->reason = CW_REASON_INTERNAL_ERROR;
        }
    }
    cw__worker_give(c, w);
    if (o == CW__RETRY) {
        reply->action = CW_ACTION_RETRY;
    }
    reply->state = next;
    reply->captures_left = c->policy[t.programme].max_captures - t.captures;
    if (reply->captures_left < 0) {
        reply->captures_left = 0;
    }
    reply->ms_total = cw__now_ms() - t0;

    pthread_mutex_lock(&c->txn_lock);
    slot = txn_find(c, txn);
    if (final) {
        // The step's copy owns any chip template now; the slot's pointer is the same one.
        slot->chip_face = NULL;
        txn_drop(c, slot);
    } else {
        t.state = next;
        t.busy = 0;
        *slot = t;
    }
    pthread_mutex_unlock(&c->txn_lock);
    if (final) {
        cw_free_wipe(t.chip_face, sizeof(cw_face_template_t));
    }
    if (ferr != 0) {
        snprintf(diag, diag_len, "%s", stepdiag);
        return ferr;
    }
    return 0;
}

int cw_clearance_expire(cw_clearance_t *c, int64_t now, size_t *n_expired)
{
    if (c == NULL) {
        return CW_EINVAL;
    }
    size_t n = 0;
    int first_err = 0;
    for (;;) {
        cw__txn_t t;
        int found = 0;
        pthread_mutex_lock(&c->txn_lock);
        for (size_t i = 0; i < c->n_txns; i++) {
            cw__txn_t *s = &c->txns[i];
            if (!s->busy && now - s->started_at > c->policy[s->programme].txn_timeout) {
                t = *s;
                s->chip_face = NULL;
                txn_drop(c, s);
                found = 1;
                break;
            }
        }
        pthread_mutex_unlock(&c->txn_lock);
        if (!found) {
            break;
        }
        cw__worker_t *w = cw__worker_take(c);
        char diag[256];
        int err = txn_finish(c, w, &t, 0, CW_REASON_TIMEOUT, now, diag, sizeof(diag));
        cw__worker_give(c, w);
        cw_free_wipe(t.chip_face, sizeof(cw_face_template_t));
        if (err != 0 && first_err == 0) {
            first_err = err;
        }
        n++;
    }
    // Spent flight tokens leave the gallery.
    pthread_mutex_lock(&c->gallery_write);
    for (size_t i = 0; i < c->ft_n;) {
        if (c->ft_departure[i] != 0 && c->ft_departure[i] < now) {
            (void)cw_gallery_remove(c->gallery[CW_PROGRAMME_FLIGHT_TOKEN], c->ft_traveller[i]);
            c->ft_traveller[i] = c->ft_traveller[c->ft_n - 1];
            c->ft_departure[i] = c->ft_departure[c->ft_n - 1];
            c->ft_n--;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&c->gallery_write);
    if (n_expired != NULL) {
        *n_expired = n;
    }
    return first_err;
}
