/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clearance: the gate workflow. One explicit state machine per mode (one enum of states, one
 * transition table), driven by events from a gate device: a face capture at the front, a
 * document (identity-card number, QR token, e-passport MRZ and chip photo), the traveller's
 * confirmation, the inside capture (face and fingerprint). Each step returns the gate's next
 * action: CAPTURE_FACE, PRESENT_DOCUMENT, SHOW_CONFIRMATION (masked hints only), OPEN_FRONT,
 * RETRY (with a specific instruction), OPEN_REAR (cleared), REFER_TO_OFFICER (with a reason).
 *
 * Rules that hold in every mode: a 1:N decision uses a threshold that follows the gallery size
 * and refuses two close candidates (cw_gallery_decide); only quality failures are retried, at
 * most max_captures captures per transaction, each audited; NO_MATCH, AMBIGUOUS, a failed 1:1
 * check, ineligibility and any internal error refer to an officer and end the transaction; the
 * inside checks compare against the record chosen at the front, never search again; nothing
 * beyond the masked hint leaves the service towards a gate device.
 *
 * Also here, as pure functions: the ICAO 9303 MRZ parser, the signed QR tokens and the masking
 * of personal data for gate screens.
 */
#ifndef CLEARWAY_CLEARANCE_H
#define CLEARWAY_CLEARANCE_H

#include "clearway/face.h"
#include "clearway/finger.h"
#include "clearway/gallery.h"
#include "clearway/store.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==== machine-readable zone (ICAO Doc 9303 parts 4 and 5) ==== */

typedef enum cw_mrz_format {
    CW_MRZ_TD1 = 1, /* identity cards: 3 lines of 30 */
    CW_MRZ_TD3 = 3, /* passports: 2 lines of 44 */
} cw_mrz_format_t;

typedef struct cw_mrz {
    cw_mrz_format_t format;
    char doc_code[3];                /* "P", "I", "ID", ... ('<' removed) */
    char issuer[4];                  /* issuing state, ICAO 3-letter code */
    char number[CW_STORE_DOCNO_MAX]; /* document number, '<' removed (TD1 long numbers joined) */
    char surname[CW_STORE_NAME_MAX]; /* primary identifier, '<' as space */
    char given[CW_STORE_NAME_MAX];   /* secondary identifier, '<' as space */
    char nationality[4];
    cw_date_t birth;  /* year from the two digits: not after today, else the century before */
    cw_date_t expiry; /* year 20YY */
    char sex;         /* 'F', 'M' or 'X' ('<' read as 'X') */
    char optional[32];
} cw_mrz_t;

/*
 * cw_mrz_parse: parse and check an MRZ given as its lines separated by '\n' (or "\r\n"), or
 * as one run of 90 (TD1) or 88 (TD3) characters. today resolves two-digit birth years. Every
 * check digit is verified (document number, birth, expiry, optional data for TD3, composite).
 * Returns 0, CW_EFORMAT (wrong length, character outside A-Z 0-9 '<', impossible date, or a
 * check digit that fails: diag names which). Reads at most len bytes; pure, thread-safe.
 */
int cw_mrz_parse(const char *text, size_t len, const cw_date_t *today, cw_mrz_t *out, char *diag,
                 size_t diag_len);

/* The ICAO 9303 check digit (weights 7, 3, 1) of n characters; -1 if one is not allowed. */
int cw_mrz_check_digit(const char *s, size_t n);

/* ==== signed QR tokens for the contactless e-channel ==== */

enum {
    CW_TOKEN_TEXT_MAX = 160, /* "CW1." + base64url of 33 bytes of payload + 64 of signature */
};

typedef struct cw_token {
    uint64_t id; /* the store's token id (revocation and anti-passback live there) */
    uint64_t traveller;
    int64_t issued_at, expires_at;
} cw_token_t;

/* Ed25519 key pair from the store's seed (cw_store_signing_seed). */
int cw_token_keypair(const uint8_t seed[32], uint8_t pk[32], uint8_t sk[64]);

/* cw_token_encode: the QR text of t signed with sk into out (cap >= CW_TOKEN_TEXT_MAX). */
int cw_token_encode(const cw_token_t *t, const uint8_t sk[64], char *out, size_t cap);

/*
 * cw_token_decode: check the signature of a QR text with pk and read its fields. Expiry and
 * revocation are the caller's (they need the time and the store). Returns 0, CW_EFORMAT
 * (not a token of this version: malformed), CW_ECRYPTO (signature does not verify: forged or
 * altered). Reads at most len bytes.
 */
int cw_token_decode(const char *text, size_t len, const uint8_t pk[32], cw_token_t *out, char *diag,
                    size_t diag_len);

/* ==== masking for gate screens ==== */

enum { CW_MASK_MAX = 64 };

/*
 * cw_mask_name_latin: "CHAN Tai Man" -> "CHAN T** M**": the surname (the first word, or every
 * word in capitals before the given names) kept, each given name cut to its initial and "**".
 * cw_mask_name_local: "陳大文" -> "陳**" (the first UTF-8 character, then '*' per character).
 * cw_mask_number: "H12345F37" -> "…F37" (the last three characters; shorter numbers give "…").
 * Each writes a NUL-terminated string of at most cap bytes (CW_MASK_MAX is enough); returns 0
 * or CW_EINVAL (NULL) / CW_ETOOBIG (cap too small).
 */
int cw_mask_name_latin(const char *name, char *out, size_t cap);
int cw_mask_name_local(const char *name, char *out, size_t cap);
int cw_mask_number(const char *number, char *out, size_t cap);

/* ==== the gate state machines ==== */

typedef enum cw_txn_state {
    CW_TXN_AWAIT_IDENTITY = 0, /* front: waiting for the face (1:N modes) or the document */
    CW_TXN_AWAIT_CONFIRMATION, /* document-free: masked hint shown, waiting for yes / not me */
    CW_TXN_AWAIT_INSIDE,       /* front gate open: waiting for the inside capture */
    CW_TXN_CLEARED,            /* rear gate opened: final */
    CW_TXN_REFERRED,           /* referred to an officer: final */
    CW_TXN_N_STATES
} cw_txn_state_t;

typedef enum cw_txn_event {
    CW_EV_FACE = 0,  /* a face capture (front in 1:N modes, inside in 1:1 modes) */
    CW_EV_ID_NUMBER, /* an identity-card number typed or read */
    CW_EV_QR,        /* a QR token */
    CW_EV_PASSPORT,  /* an e-passport's MRZ and chip face image */
    CW_EV_CONFIRM,   /* the traveller confirms the masked hint */
    CW_EV_DECLINE,   /* "not me" */
    CW_EV_INSIDE,    /* document-free inside capture: face and fingerprint */
    CW_EV_ABANDON,   /* the gate gives up (traveller left, timeout) */
    CW_EV_N_EVENTS
} cw_txn_event_t;

typedef enum cw_gate_action {
    CW_ACTION_NONE = 0,
    CW_ACTION_CAPTURE_FACE,      /* take the face (next step: CW_EV_FACE) */
    CW_ACTION_PRESENT_DOCUMENT,  /* ask for the ID number, QR code or passport */
    CW_ACTION_SHOW_CONFIRMATION, /* show the masked hint, ask yes / not me */
    CW_ACTION_OPEN_FRONT,        /* open the front gate; then the inside capture */
    CW_ACTION_RETRY,             /* capture again, following the instruction */
    CW_ACTION_OPEN_REAR,         /* cleared: open the rear (exit) gate */
    CW_ACTION_REFER_TO_OFFICER,  /* final: send to the officer / document lane, with a reason */
} cw_gate_action_t;

/* Why a step retried or referred: XX(name, instruction shown to the traveller). */
#define CW_REASON_MAP(XX)                                                                          \
    XX(NONE, "")                                                                                   \
    XX(NO_FACE, "face not found: look at the camera")                                              \
    XX(MOVE_CLOSER, "move closer")                                                                 \
    XX(STEP_BACK, "step back")                                                                     \
    XX(OFF_CENTRE, "stand in the middle")                                                          \
    XX(LOOK_STRAIGHT, "look straight at the camera")                                               \
    XX(HOLD_STILL, "hold still")                                                                   \
    XX(TOO_DARK, "face the light")                                                                 \
    XX(TOO_BRIGHT, "avoid strong light behind or on you")                                          \
    XX(OCCLUDED, "remove sunglasses or mask")                                                      \
    XX(MANY_FACES, "one person at a time")                                                         \
    XX(FINGER_QUALITY, "place your finger again")                                                  \
    XX(BAD_IMAGE, "the picture could not be read: try again")                                      \
    XX(NO_MATCH, "please see an officer")                                                          \
    XX(AMBIGUOUS, "please see an officer")                                                         \
    XX(NOT_ELIGIBLE, "please see an officer")                                                      \
    XX(FACE_MISMATCH, "please see an officer")                                                     \
    XX(FINGER_MISMATCH, "please see an officer")                                                   \
    XX(LIVENESS, "please see an officer")                                                          \
    XX(RETRIES_EXHAUSTED, "please see an officer")                                                 \
    XX(DECLINED, "please see an officer")                                                          \
    XX(UNKNOWN_DOCUMENT, "please see an officer")                                                  \
    XX(TOKEN_INVALID, "please see an officer")                                                     \
    XX(TOKEN_EXPIRED, "please see an officer")                                                     \
    XX(TOKEN_REVOKED, "please see an officer")                                                     \
    XX(TOKEN_REUSED, "please see an officer")                                                      \
    XX(MRZ_INVALID, "please see an officer")                                                       \
    XX(CHIP_FACE_UNUSABLE, "please see an officer")                                                \
    XX(TOUCHPOINT_ORDER, "please see an officer")                                                  \
    XX(POPULATION_CAP, "please see an officer")                                                    \
    XX(ABANDONED, "please see an officer")                                                         \
    XX(TIMEOUT, "please see an officer")                                                           \
    XX(INTERNAL_ERROR, "please see an officer")

typedef enum cw_reason {
#define CW__REASON_ENUM(name, text) CW_REASON_##name,
    CW_REASON_MAP(CW__REASON_ENUM)
#undef CW__REASON_ENUM
        CW_REASON_N
} cw_reason_t;

/* "NO_MATCH"; the instruction for the traveller; "?" / "" when unknown. Static strings. */
const char *cw_reason_name(cw_reason_t r);
const char *cw_reason_instruction(cw_reason_t r);
const char *cw_txn_state_name(cw_txn_state_t s);
const char *cw_txn_event_name(cw_txn_event_t e);
const char *cw_gate_action_name(cw_gate_action_t a);
const char *cw_programme_name(cw_programme_t p);  /* "document_free", ... */
cw_programme_t cw_programme_parse(const char *s); /* 0 if unknown */

/*
 * cw_txn_transition_allowed: 1 if event e is accepted in state s of programme p's machine (the
 * table every step consults; any other event is refused with CW_ESTATE and changes nothing).
 */
int cw_txn_transition_allowed(cw_programme_t p, cw_txn_state_t s, cw_txn_event_t e);

/* ==== policies ==== */

typedef struct cw_clearance_policy {
    cw_gallery_policy_t gallery; /* 1:N modes: target FPIR, ambiguity margin, population cap */
    int max_captures;            /* face captures per transaction (0: 3) */
    double face_fmr;             /* 1:1 face threshold's false-match rate (0: 1e-4) */
    double finger_fmr;           /* 1:1 fingerprint threshold's false-match rate (0: 1e-4) */
    float pad_max;               /* refuse (LIVENESS) above this attack score; <= 0: not checked */
    int64_t token_min_gap;       /* QR anti-passback: seconds between two uses (0: 60) */
    int64_t txn_timeout;         /* seconds a transaction may stay open (0: 120) */
} cw_clearance_policy_t;

/* The defaults of programme p (docs/api.md lists them and where their numbers come from). */
void cw_clearance_policy_default(cw_programme_t p, cw_clearance_policy_t *out);

/* ==== the service ==== */

typedef struct cw_clearance cw_clearance_t;

typedef struct cw_clearance_config {
    const char *store;                  /* SQLite path or postgresql:// URL */
    const cw_store_config_t *store_cfg; /* may be NULL */
    cw_face_config_t face; /* deps_dir required; load_pad if any pad_max > 0; min_face 0: 64 */
    cw_clearance_policy_t policy[CW_PROGRAMME_CLOSED_AREA + 1]; /* index by programme; zeroed
                                                   entries take cw_clearance_policy_default */
    int workers;        /* concurrent steps (one face session and store handle each; 0: 2) */
    int search_threads; /* threads of the shared 1:N search pool (0: 1 = the calling thread) */
    /* Optional: a gallery snapshot of synthetic distractor rows added to the document-free
     * gallery (ids that are no traveller: a match on one refers). For capacity tests only. */
    const char *distractors;
    void (*progress)(void *ctx, const char *what, uint64_t done, uint64_t total);
    void *progress_ctx;
} cw_clearance_config_t;

/*
 * cw_clearance_create: open the store (one handle per worker), load the face engine, and build
 * the galleries of the 1:N programmes (document-free, flight token, closed area) from the
 * store's face templates. Errors from the store and face engine, with detail in diag.
 * Destroy with cw_clearance_destroy (NULL is a no-op). Thread-safe after creation: every
 * function below may be called from any number of threads.
 */
int cw_clearance_create(const cw_clearance_config_t *cfg, cw_clearance_t **out, char *diag,
                        size_t diag_len);
void cw_clearance_destroy(cw_clearance_t *c);

/* What a step produced. Nothing in it is personal data beyond the masked hints. */
typedef struct cw_clearance_reply {
    uint64_t txn;
    cw_programme_t programme;
    cw_txn_state_t state;
    cw_gate_action_t action;
    cw_reason_t reason; /* RETRY and REFER_TO_OFFICER */
    int captures_left;
    /* SHOW_CONFIRMATION only */
    char masked_name[CW_MASK_MAX];
    char masked_local[CW_MASK_MAX];
    char masked_document[CW_MASK_MAX];
    /* for metrics and the audit trail (never shown on the gate) */
    double ms_decode, ms_face, ms_search, ms_match, ms_total;
    uint64_t gallery_n; /* 1:N: the gallery size decided for */
} cw_clearance_reply_t;

/*
 * An event's inputs; which fields matter depends on the event. Byte buffers are borrowed for
 * the call (images are JPEG, PNG or JPEG 2000 files; the fingerprint an image file or an
 * ISO/IEC 19794-2 record).
 */
typedef struct cw_clearance_event {
    cw_txn_event_t type;
    const uint8_t *face;
    size_t face_len;
    const uint8_t *finger;
    size_t finger_len;
    int finger_is_iso;
    const char *text;    /* ID number, QR text or MRZ */
    const uint8_t *chip; /* passport chip face image */
    size_t chip_len;
} cw_clearance_event_t;

/*
 * cw_clearance_begin: open a transaction at gate (its programme decides the machine); the
 * reply says the first action. principal names the caller for the audit log.
 * CW_ENOENT (no such gate).
 */
int cw_clearance_begin(cw_clearance_t *c, uint64_t gate, int64_t now, const char *principal,
                       cw_clearance_reply_t *reply, char *diag, size_t diag_len);

/*
 * cw_clearance_step: feed one event to transaction txn at gate. Decisions (including referrals)
 * are results: return 0 with the reply. Errors: CW_ENOENT (no such open transaction at this
 * gate), CW_ESTATE (event not allowed in the current state: nothing changes), CW_EBUSY (another
 * step of the same transaction is running), CW_EINVAL (event fields missing). An internal
 * failure during a step (store gone, out of memory) is not returned as an error: the
 * transaction is referred with INTERNAL_ERROR (fail closed) and the reply says so; the return
 * value is then 0 unless even recording the referral failed (then the error, and the
 * transaction is dropped from memory: it can never clear).
 */
int cw_clearance_step(cw_clearance_t *c, uint64_t gate, uint64_t txn,
                      const cw_clearance_event_t *ev, int64_t now, const char *principal,
                      cw_clearance_reply_t *reply, char *diag, size_t diag_len);

/* Refer every open transaction older than its policy's txn_timeout (TIMEOUT); how many. */
int cw_clearance_expire(cw_clearance_t *c, int64_t now, size_t *n_expired);

/* ==== enrolment and records ==== */

typedef struct cw_clearance_enrolment {
    const uint8_t *face; /* a JPEG/PNG photo; may be NULL (no face template) */
    size_t face_len;
    const uint8_t *fingers[CW_STORE_MAX_TEMPLATES]; /* images or ISO records */
    size_t finger_lens[CW_STORE_MAX_TEMPLATES];
    int finger_is_iso[CW_STORE_MAX_TEMPLATES];
    int n_fingers;
} cw_clearance_enrolment_t;

typedef struct cw_clearance_enrol_result {
    uint64_t traveller;
    int duplicate_of; /* 1 if the face resembles an enrolled traveller: status REVIEW */
    uint64_t resembles;
    cw_eligibility_t eligibility[CW_PROGRAMME_CLOSED_AREA + 1]; /* per programme held */
    cw_reason_t face_problem; /* NONE, or why the photo could not be used */
    int finger_problems;      /* fingerprint images whose quality was refused */
} cw_clearance_enrol_result_t;

/*
 * cw_clearance_enrol: extract the templates (face photo quality checked: a photo that fails is
 * refused with CW_EINVAL and face_problem set; fingerprints extracted or read), check the face
 * 1:N against everyone enrolled for duplicates (REVIEW when one resembles), store t with its
 * templates in one transaction, and add the face to the galleries of t's 1:N programmes. t's
 * templates[] must be empty (the service fills them). Errors as cw_store_enrol.
 */
int cw_clearance_enrol(cw_clearance_t *c, cw_store_traveller_t *t,
                       const cw_clearance_enrolment_t *bio, int64_t now, const char *actor,
                       cw_clearance_enrol_result_t *res, char *diag, size_t diag_len);

/* Withdraw consent for a modality: the store deletes the templates, the galleries drop them. */
int cw_clearance_consent_withdraw(cw_clearance_t *c, uint64_t traveller, cw_modality_t modality,
                                  int64_t now, const char *actor, char *diag, size_t diag_len);

/* Delete a traveller (store and galleries). */
int cw_clearance_traveller_delete(cw_clearance_t *c, uint64_t traveller, int64_t now,
                                  const char *actor, char *diag, size_t diag_len);

/* Issue a QR token for traveller valid until expires_at; the text into qr. */
int cw_clearance_token_issue(cw_clearance_t *c, uint64_t traveller, int64_t now, int64_t expires_at,
                             const char *actor, char qr[CW_TOKEN_TEXT_MAX], uint64_t *token_id,
                             char *diag, size_t diag_len);

/*
 * cw_clearance_with_store: run fn with a store handle from the service's pool (for record
 * reads, referrals, reports, API keys). fn's return is returned.
 */
typedef int (*cw_clearance_store_fn)(void *ctx, cw_store_t *st);
int cw_clearance_with_store(cw_clearance_t *c, cw_clearance_store_fn fn, void *ctx);

/* Apply retention now: purge the store and drop the purged templates from the galleries. */
int cw_clearance_purge(cw_clearance_t *c, int64_t now, const cw_store_retention_t *policy,
                       size_t *n_purged, char *diag, size_t diag_len);

/* ==== numbers for /metrics ==== */

typedef struct cw_clearance_stats {
    uint64_t gallery_n[CW_PROGRAMME_CLOSED_AREA + 1]; /* rows in each 1:N gallery */
    uint64_t population_cap[CW_PROGRAMME_CLOSED_AREA + 1];
    uint64_t decisions[CW_PROGRAMME_CLOSED_AREA + 1][CW_REASON_N]; /* ended: by reason */
    uint64_t cleared[CW_PROGRAMME_CLOSED_AREA + 1];
    uint64_t open_transactions;
} cw_clearance_stats_t;

void cw_clearance_stats(cw_clearance_t *c, cw_clearance_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
