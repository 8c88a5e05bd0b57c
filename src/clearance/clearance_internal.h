/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the clearance service shared by its files: the transition table's row type and
 * step ids (machine.c), the open transactions, the per-worker contexts (a face session and a
 * store handle each) and the service itself (service.c), the steps (steps.c) and enrolment
 * (enrol.c).
 */
#ifndef CW_CLEARANCE_INTERNAL_H
#define CW_CLEARANCE_INTERNAL_H

#include "clearway/clearance.h"

#include <pthread.h>

/* The steps the table can name; steps.c implements each. */
typedef enum cw__step {
    CW__STEP_FRONT_1N = 0,
    CW__STEP_CONFIRM,
    CW__STEP_DECLINE,
    CW__STEP_INSIDE_FACE_FINGER,
    CW__STEP_ID_NUMBER,
    CW__STEP_QR,
    CW__STEP_INSIDE_FACE,
    CW__STEP_PASSPORT,
    CW__STEP_INSIDE_CHIP,
    CW__STEP_TOKEN_1N,
    CW__STEP_CLOSED_1N,
    CW__STEP_ABANDON,
    CW__N_STEPS
} cw__step_t;

typedef struct cw__transition {
    cw_programme_t programme;
    cw_txn_state_t state;
    cw_txn_event_t event;
    cw__step_t step;
    cw_txn_state_t next; /* where a successful step leads */
} cw__transition_t;

/* The row for (p, s, e), or NULL: the event is refused. */
const cw__transition_t *cw__transition_find(cw_programme_t p, cw_txn_state_t s, cw_txn_event_t e);
/* What a new transaction of programme p asks for first. */
cw_gate_action_t cw__first_action(cw_programme_t p);

/* A step's outcome. */
typedef enum cw__outcome {
    CW__OK = 0, /* go to the row's next state */
    CW__RETRY,  /* capture again (reply.reason says why); state unchanged */
    CW__REFER,  /* final referral (reply.reason) */
} cw__outcome_t;

/* An open transaction (in memory; the store holds its history). */
typedef struct cw__txn {
    uint64_t id, gate;
    cw_programme_t programme;
    int touchpoint;
    cw_txn_state_t state;
    int busy; /* a step is running */
    int captures;
    int64_t started_at;
    uint64_t traveller;            /* the record the first factor chose (0: none yet) */
    cw_face_template_t *chip_face; /* Smart Departure: the chip photo's template (wiped) */
} cw__txn_t;

/* One worker's context: used by one step at a time. */
typedef struct cw__worker {
    cw_face_session_t *face;
    cw_store_t *st;
} cw__worker_t;

enum { CW__N_PROGRAMMES = CW_PROGRAMME_CLOSED_AREA + 1, CW__MAX_OPEN_TXNS = 4096 };

struct cw_clearance {
    cw_clearance_policy_t policy[CW__N_PROGRAMMES];
    cw_image_limits_t limits;

    cw_face_engine_t *engine;
    uint32_t model_id, model_version, dim, flags;
    int have_calibration;
    cw_gallery_calibration_t calibration;

    /* One gallery per programme, rows keyed by traveller id: the 1:N programmes search theirs;
     * every gallery is searched for duplicates at enrolment. Writers take gallery_write. */
    cw_gallery_t *gallery[CW__N_PROGRAMMES];
    cw_gallery_t *distractors; /* optional synthetic rows beside the document-free gallery */
    pthread_mutex_t gallery_write;
    cw_pool_t *search_pool;

    /* Flight-token rows leave the gallery after departure: traveller -> departure. */
    uint64_t *ft_traveller;
    int64_t *ft_departure;
    size_t ft_n, ft_cap;

    uint8_t token_pk[32], token_sk[64];

    cw__worker_t *workers;
    int n_workers;
    int *free_workers;
    int n_free;
    pthread_mutex_t worker_lock;
    pthread_cond_t worker_free;

    cw__txn_t *txns;
    size_t n_txns, cap_txns;
    pthread_mutex_t txn_lock;

    pthread_mutex_t stats_lock;
    cw_clearance_stats_t stats;
};

/* Take a worker (waits for one) / give it back. */
cw__worker_t *cw__worker_take(cw_clearance_t *c);
void cw__worker_give(cw_clearance_t *c, cw__worker_t *w);

/* CW_EINVAL (with diag) if ev lacks an input step s needs. */
int cw__step_check(cw__step_t s, const cw_clearance_event_t *ev, char *diag, size_t diag_len);

/* Run step s of transaction t (steps.c). *err receives an internal failure (then REFER). */
cw__outcome_t cw__step_run(cw_clearance_t *c, cw__worker_t *w, cw__step_t s, cw__txn_t *t,
                           const cw_clearance_event_t *ev, int64_t now, cw_clearance_reply_t *reply,
                           int *err, char *diag, size_t diag_len);

/*
 * Face from an image: decode, detect, pick, quality (and the attack score when pad_max > 0)
 * and embed. A capture problem is a result in *problem (NONE when the template is good);
 * returns an error only for internal failures (memory). strict = 0 skips the quality verdict
 * (a chip photo only needs a face).
 */
int cw__face_from_image(cw_clearance_t *c, cw__worker_t *w, const uint8_t *buf, size_t len,
                        int strict, float pad_max, cw_face_template_t *out, cw_reason_t *problem,
                        cw_clearance_reply_t *reply);

/*
 * A fingerprint template from bytes: an ISO/IEC 19794-2 record (is_iso), or a TIFF / PNG / JPEG
 * image taken as 500 dpi unless the file says otherwise. A bad image or a print too poor to use
 * is a result in *problem (FINGER_QUALITY or BAD_IMAGE); errors are internal failures only.
 */
int cw__finger_from_bytes(const uint8_t *buf, size_t len, int is_iso, cw_finger_template_t *out,
                          cw_reason_t *problem);

/* The traveller's enrolled face template of the engine's model into out; CW_ENOENT if none. */
int cw__record_face(cw_clearance_t *c, cw__worker_t *w, const cw_store_traveller_t *t,
                    cw_face_template_t *out, char *diag, size_t diag_len);

/* Add traveller's face v to the galleries of the programmes he holds (service.c). */
int cw__galleries_add(cw_clearance_t *c, const cw_store_traveller_t *t, const float *v);
/* Remove a traveller from every gallery (absent is fine). */
void cw__galleries_remove(cw_clearance_t *c, uint64_t traveller);

/* Count an ended transaction. */
void cw__stats_end(cw_clearance_t *c, cw_programme_t p, int cleared, cw_reason_t reason);

/* Milliseconds of the monotonic clock. */
double cw__now_ms(void);

#endif
