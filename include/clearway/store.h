/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store: the records of pre-verified travellers (identity, documents, programme memberships,
 * consents, biometric templates), ports and gates, clearance transactions and the audit log,
 * in SQLite (the default: one file) or PostgreSQL (a connection URL), behind one interface.
 *
 * Personal fields and templates are encrypted at rest (XChaCha20-Poly1305, the row id and field
 * name as associated data, a key id with every ciphertext so keys can be rotated). Every change
 * appends to a hash-chained audit log. The schema is versioned and migrated at open; a database
 * made by a newer program is refused.
 *
 * Concurrency: one cw_store_t is used by one thread at a time (open one per thread); any number
 * of processes may open the same database (SQLite serialises writers with its busy timeout,
 * PostgreSQL with row locks). Every public function that writes runs in one transaction: it
 * either completes or leaves the database as it was.
 *
 * Time: timestamps are int64 seconds since the Unix epoch (UTC). Calendar rules (age, document
 * validity, expiry days) use the local date of the ports served, UTC+8 (Hong Kong, Macao and the
 * Mainland keep no daylight saving).
 */
#ifndef CLEARWAY_STORE_H
#define CLEARWAY_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_store cw_store_t;

/* Schema version this program writes; a database with a higher one is refused. */
enum { CW_STORE_SCHEMA_VERSION = 3 };

/* Field limits in bytes, including the terminating NUL (text fields are UTF-8). */
enum {
    CW_STORE_NAME_MAX = 128,
    CW_STORE_NATIONALITY_MAX = 4, /* ISO 3166-1 alpha-3 */
    CW_STORE_DOCNO_MAX = 24,
    CW_STORE_MRZ_MAX = 96,  /* TD3: two lines of 44 characters */
    CW_STORE_CODE_MAX = 24, /* booking, flight, area, port and gate codes */
    CW_STORE_DEVICE_MAX = 64,
    CW_STORE_MAX_DOCUMENTS = 6,
    CW_STORE_MAX_ENDORSEMENTS = 4,
    CW_STORE_MAX_MEMBERSHIPS = 6,
    CW_STORE_MAX_CONSENTS = 4,
    CW_STORE_MAX_TEMPLATES = 12,
    CW_STORE_TEMPLATE_MAX_BYTES = 64 * 1024,
};

typedef struct cw_date {
    int year, month, day; /* a proleptic Gregorian date, years 1850..2199 */
} cw_date_t;

typedef enum cw_sex { CW_SEX_UNSPECIFIED = 0, CW_SEX_FEMALE = 1, CW_SEX_MALE = 2 } cw_sex_t;

typedef enum cw_residence {
    CW_RESIDENCE_HONG_KONG = 1,
    CW_RESIDENCE_MACAO = 2,
    CW_RESIDENCE_MAINLAND = 3,
    CW_RESIDENCE_VISITOR = 4,
    CW_RESIDENCE_OTHER = 5,
} cw_residence_t;

typedef enum cw_doc_type {
    CW_DOC_MAINLAND_TRAVEL_PERMIT = 1, /* Mainland Travel Permit for HK and Macao Residents */
    CW_DOC_EXIT_ENTRY_PERMIT = 2,      /* Exit-entry Permit for Travelling to and from HK/Macao */
    CW_DOC_HK_IDENTITY_CARD = 3,
    CW_DOC_PASSPORT = 4, /* with its MRZ */
    CW_DOC_CLOSED_AREA_PERMIT = 5,
} cw_doc_type_t;

typedef enum cw_endorsement_kind {
    CW_ENDORSEMENT_STAY = 1,
    CW_ENDORSEMENT_VISITING_RELATIVES = 2,
    CW_ENDORSEMENT_BUSINESS_VISIT = 3,
    CW_ENDORSEMENT_TALENTS = 4,
    CW_ENDORSEMENT_OTHER = 5,
} cw_endorsement_kind_t;

typedef enum cw_programme {
    CW_PROGRAMME_DOCUMENT_FREE = 1,
    CW_PROGRAMME_CONTACTLESS = 2,
    CW_PROGRAMME_SMART_DEPARTURE = 3,
    CW_PROGRAMME_FLIGHT_TOKEN = 4,
    CW_PROGRAMME_CLOSED_AREA = 5,
} cw_programme_t;

typedef enum cw_modality { CW_MODALITY_FACE = 1, CW_MODALITY_FINGERPRINT = 2 } cw_modality_t;

typedef struct cw_store_endorsement {
    cw_endorsement_kind_t kind;
    int multiple_exit;                 /* 0 or 1 */
    cw_date_t valid_from, valid_until; /* inclusive */
} cw_store_endorsement_t;

typedef struct cw_store_document {
    cw_doc_type_t type;
    char number[CW_STORE_DOCNO_MAX]; /* unique per type across the store; encrypted */
    cw_date_t issued, expires;       /* expires is the last valid day */
    char mrz[CW_STORE_MRZ_MAX];      /* passports only; encrypted */
    int n_endorsements;              /* exit-entry permits only */
    cw_store_endorsement_t endorsements[CW_STORE_MAX_ENDORSEMENTS];
} cw_store_document_t;

typedef struct cw_store_membership {
    cw_programme_t programme;
    int64_t enrolled_at;
    int64_t expires_at; /* membership ends at this instant (0: no expiry) */
    /* flight token */
    char booking[CW_STORE_CODE_MAX];
    char flight[CW_STORE_CODE_MAX];
    int64_t departure_at;
    /* closed-area contactless */
    char area[CW_STORE_CODE_MAX];
} cw_store_membership_t;

typedef struct cw_store_consent {
    cw_modality_t modality;
    int64_t given_at;
    int64_t withdrawn_at; /* 0: not withdrawn */
} cw_store_consent_t;

typedef struct cw_store_template {
    uint64_t id; /* set by the store */
    cw_modality_t modality;
    uint32_t model_id, model_version;
    float quality;       /* 0..1 */
    int64_t captured_at; /* capture metadata */
    char device[CW_STORE_DEVICE_MAX];
    /*
     * The template bytes (at most CW_STORE_TEMPLATE_MAX_BYTES; encrypted at rest). On enrol a
     * borrowed pointer read during the call; cw_store_load leaves it NULL (read the bytes with
     * cw_store_template_get) and sets len.
     */
    const void *data;
    size_t len;
} cw_store_template_t;

typedef enum cw_store_status {
    CW_STORE_ACTIVE = 0,
    CW_STORE_REVIEW = 1, /* flagged (e.g. likely duplicate identity): an officer decides */
} cw_store_status_t;

/*
 * A traveller's record: plain data, no pointers the store owns. Text fields are NUL-terminated
 * within their arrays; a field that fills its array without a NUL is refused (CW_ETOOBIG).
 */
typedef struct cw_store_traveller {
    uint64_t id; /* set by cw_store_enrol */
    char name_local[CW_STORE_NAME_MAX];
    char name_latin[CW_STORE_NAME_MAX];
    cw_sex_t sex;
    cw_date_t birth;
    cw_residence_t residence;
    char nationality[CW_STORE_NATIONALITY_MAX];
    cw_store_status_t status;
    uint64_t review_of; /* REVIEW: the record it may duplicate (0: none) */
    int n_documents, n_memberships, n_consents, n_templates;
    cw_store_document_t documents[CW_STORE_MAX_DOCUMENTS];
    cw_store_membership_t memberships[CW_STORE_MAX_MEMBERSHIPS];
    cw_store_consent_t consents[CW_STORE_MAX_CONSENTS];
    cw_store_template_t templates[CW_STORE_MAX_TEMPLATES];
} cw_store_traveller_t;

/* ---- opening ---- */

typedef struct cw_store_config {
    /*
     * The key: 32 bytes as 64 hex digits or base64. Several keys may be given separated by
     * commas; the first encrypts, all decrypt (a rotation in progress). When NULL the
     * environment variable CLEARWAY_KEY is used, then the key file.
     */
    const char *key;
    /*
     * Key file (one key per line, the first is current). NULL: "<db path>.key" for SQLite;
     * PostgreSQL needs a key or a key file. Created with mode 0600 on first use when absent;
     * a key file readable or writable by group or others is refused (CW_EPERM).
     */
    const char *key_file;
    int read_only;          /* open without writing (SQLite: read-only file handle) */
    int busy_timeout_ms;    /* wait this long for a lock (0: 5000) */
    int no_key_file_create; /* 1: a missing key file is an error (CW_ENOENT) */
} cw_store_config_t;

/*
 * cw_store_open: open (creating and migrating when needed) the store at target:
 * "postgresql://..." or "postgres://..." is a PostgreSQL connection URL, anything else a SQLite
 * file path. cfg may be NULL (defaults). Writes the handle to *out; close with cw_store_close
 * (NULL is a no-op), which wipes the keys.
 * Errors: CW_EUNSUPPORTED (schema newer than this program), CW_ECRYPTO (wrong key), CW_EPERM
 * (key file permissions, or a read-only database that needs migrating), CW_ECORRUPT (not a
 * database), CW_EBUSY (locked), CW_EIO (cannot connect), CW_EDB, CW_ENOMEM; detail in diag.
 */
int cw_store_open(const char *target, const cw_store_config_t *cfg, cw_store_t **out, char *diag,
                  size_t diag_len);
void cw_store_close(cw_store_t *st);

/* "sqlite" or "postgresql". */
const char *cw_store_backend(const cw_store_t *st);

/* The schema version of the open database. */
int cw_store_schema_version(cw_store_t *st, int *version, char *diag, size_t diag_len);

/* ---- dates ---- */

/* 1 if d is a real calendar date within the supported years, else 0. */
int cw_date_valid(const cw_date_t *d);
/* Parse "YYYY-MM-DD" (exactly). CW_EFORMAT if malformed or not a real date. */
int cw_date_parse(const char *s, cw_date_t *out);
/* The local (UTC+8) calendar date of a timestamp. */
cw_date_t cw_date_local(int64_t t);

/* ---- enrolment and records ---- */

/*
 * cw_store_enrol: store a traveller with documents, memberships, consents and templates in one
 * transaction, and audit it. actor names who enrols (for the audit log, may be NULL). On
 * success sets t->id and each t->templates[i].id. Validates everything first: CW_EINVAL (bad
 * enum, invalid date, consent missing for a template's modality), CW_ETOOBIG (oversized
 * field or count), CW_EEXIST (a document of the same type and number is enrolled already);
 * then CW_EPERM (read-only), CW_EBUSY, CW_EIO, CW_EDB, CW_ENOMEM: in every error case nothing
 * was written.
 */
int cw_store_enrol(cw_store_t *st, cw_store_traveller_t *t, int64_t now, const char *actor,
                   char *diag, size_t diag_len);

/*
 * cw_store_load: the record of traveller id into *out (decrypted; template bytes not loaded).
 * CW_ENOENT if absent, CW_ECRYPTO if a ciphertext fails to open (tampered or moved).
 */
int cw_store_load(cw_store_t *st, uint64_t id, cw_store_traveller_t *out, char *diag,
                  size_t diag_len);

/*
 * cw_store_find_document: the traveller holding the document of this type and number, in *id.
 * CW_ENOENT if none.
 */
int cw_store_find_document(cw_store_t *st, cw_doc_type_t type, const char *number, uint64_t *id,
                           char *diag, size_t diag_len);

/*
 * cw_store_template_get: the bytes of template id (decrypted) into buf (cap bytes), the length
 * in *len. CW_EOVERFLOW if cap is too small (*len tells the size), CW_ENOENT, CW_ECRYPTO.
 * The caller wipes buf when done.
 */
int cw_store_template_get(cw_store_t *st, uint64_t id, void *buf, size_t cap, size_t *len,
                          char *diag, size_t diag_len);

/*
 * cw_store_template_each: call fn for every template of a modality (to fill a gallery at
 * start-up): traveller id, the template's metadata and its decrypted bytes, which are borrowed
 * for the call and wiped after it. A non-zero return from fn stops the walk and is returned.
 * CW_ECRYPTO if a template fails to open.
 */
typedef int (*cw_store_template_fn)(void *ctx, uint64_t traveller, const cw_store_template_t *t,
                                    const void *data, size_t len);
int cw_store_template_each(cw_store_t *st, cw_modality_t modality, cw_store_template_fn fn,
                           void *ctx, char *diag, size_t diag_len);

/* Number of travellers (all statuses). */
int cw_store_count(cw_store_t *st, uint64_t *n, char *diag, size_t diag_len);

/*
 * cw_store_consent_withdraw: record the withdrawal of consent for a modality at now and delete
 * that modality's templates in the same transaction. The ids of the deleted templates are
 * written to removed[0..cap) and their number to *n_removed (the caller removes them from its
 * galleries); CW_EOVERFLOW (nothing done) if more than cap would be removed. CW_ENOENT if the
 * traveller has no such consent in force.
 */
int cw_store_consent_withdraw(cw_store_t *st, uint64_t traveller, cw_modality_t modality,
                              int64_t now, const char *actor, uint64_t *removed, size_t cap,
                              size_t *n_removed, char *diag, size_t diag_len);

/* ---- eligibility (pure functions over a loaded record) ---- */

#define CW_ELIG_REASON_MAP(XX)                                                                     \
    XX(UNDER_AGE, "younger than 14 on the day")                                                    \
    XX(BIRTH_DATE_INVALID, "date of birth missing or invalid")                                     \
    XX(NO_VALID_DOCUMENT, "no valid travel document of the required type")                         \
    XX(DOCUMENT_EXPIRED, "the required document has expired")                                      \
    XX(DOCUMENT_NOT_YET_VALID, "the required document is not valid yet")                           \
    XX(NO_VALID_ENDORSEMENT, "no endorsement of a qualifying kind valid on the day")               \
    XX(NO_FACE_CONSENT, "no consent to face biometrics in force")                                  \
    XX(NO_FINGERPRINT_CONSENT, "no consent to fingerprint biometrics in force")                    \
    XX(NOT_MEMBER, "not enrolled in the programme")                                                \
    XX(MEMBERSHIP_EXPIRED, "programme membership has expired")                                     \
    XX(FLIGHT_DEPARTED, "the flight has departed")                                                 \
    XX(NO_AREA, "no closed area registered")                                                       \
    XX(NO_FACE_TEMPLATE, "no face template enrolled")                                              \
    XX(NO_FINGERPRINT_TEMPLATE, "no fingerprint template enrolled")                                \
    XX(UNDER_REVIEW, "the record awaits an officer's review")                                      \
    XX(RESIDENCE_NOT_ADMITTED, "the programme is not open to this residence category")

typedef enum cw_elig_reason {
    CW_ELIG_OK = 0,
#define CW__ELIG_ENUM(name, msg) CW_ELIG_##name,
    CW_ELIG_REASON_MAP(CW__ELIG_ENUM)
#undef CW__ELIG_ENUM
        CW_ELIG_N_REASONS
} cw_elig_reason_t;

enum { CW_ELIG_MAX_FAILED = 16 };

typedef struct cw_eligibility {
    int eligible; /* 1 when n_failed == 0 */
    int n_failed;
    cw_elig_reason_t failed[CW_ELIG_MAX_FAILED]; /* every rule that failed, in rule order */
} cw_eligibility_t;

/*
 * cw_store_eligibility: which rules of programme p traveller t fails at time at (local date
 * UTC+8). Rules: age >= 14 on the day (someone born on 29 February turns 14 on 1 March in a
 * common year); a document valid on the day, by residence (Hong Kong: identity card or
 * Mainland Travel Permit; Macao: Mainland Travel Permit; Mainland: Exit-entry Permit with an
 * endorsement valid on the day that is multiple-exit or of kind stay, talents or business
 * visit; others: passport; closed-area programme: Closed Area Permit); consent in force (face,
 * and fingerprint for the document-free channel) with a template of that modality; membership
 * present and not expired (flight token: not departed). Pure; thread-safe.
 * Returns CW_EINVAL for a NULL pointer or an unknown programme, else 0 (eligible or not).
 */
int cw_store_eligibility(const cw_store_traveller_t *t, cw_programme_t p, int64_t at,
                         cw_eligibility_t *out);

/* Symbolic name ("UNDER_AGE") and message of a reason; static strings, "?" when unknown. */
const char *cw_elig_reason_name(cw_elig_reason_t r);
const char *cw_elig_reason_message(cw_elig_reason_t r);

/* ---- ports, gates, clearance transactions ---- */

/* Add a port (code unique) / a gate of a port (code unique within the port). CW_EEXIST. */
int cw_store_port_add(cw_store_t *st, const char *code, const char *name, uint64_t *id, char *diag,
                      size_t diag_len);
int cw_store_gate_add(cw_store_t *st, uint64_t port, const char *code, cw_programme_t programme,
                      uint64_t *id, char *diag, size_t diag_len);

typedef enum cw_clearance_decision {
    CW_CLEARANCE_OPEN = 0, /* not decided yet */
    CW_CLEARANCE_CLEARED = 1,
    CW_CLEARANCE_REFERRED = 2, /* to an officer */
    CW_CLEARANCE_REJECTED = 3,
} cw_clearance_decision_t;

/*
 * A clearance transaction at a gate: begin (traveller 0 when not yet identified), any number of
 * steps (step names a stage such as "face_1n", result its outcome, score optional), then end
 * with the decision. Each call is its own transaction and is audited on end. CW_ENOENT for an
 * unknown gate or transaction, CW_ESTATE when ending one that is already decided.
 */
int cw_store_clearance_begin(cw_store_t *st, uint64_t gate, uint64_t traveller,
                             cw_programme_t programme, int64_t now, uint64_t *txn, char *diag,
                             size_t diag_len);
int cw_store_clearance_step(cw_store_t *st, uint64_t txn, int64_t now, const char *step,
                            const char *result, double score, char *diag, size_t diag_len);
int cw_store_clearance_end(cw_store_t *st, uint64_t txn, int64_t now,
                           cw_clearance_decision_t decision, char *diag, size_t diag_len);

/* ---- audit log ---- */

/*
 * cw_store_audit_append: append an entry (actor, action and subject short text, detail free
 * text, each at most 1024 bytes) chained to the previous one by a keyed BLAKE2b hash; every
 * 64 entries a checkpoint row records the chain head. Stores call this themselves for every
 * change; applications add their own events. CW_ETOOBIG, CW_EPERM, CW_EDB.
 */
int cw_store_audit_append(cw_store_t *st, int64_t now, const char *actor, const char *action,
                          const char *subject, const char *detail, char *diag, size_t diag_len);

typedef struct cw_audit_report {
    uint64_t entries;     /* entries checked */
    uint64_t checkpoints; /* checkpoints that matched */
    int intact;           /* 1 if the whole chain verifies */
    uint64_t first_bad;   /* !intact: sequence number of the first entry that fails */
    char reason[128];     /* !intact: what failed there */
} cw_audit_report_t;

/*
 * cw_store_audit_verify: recompute the chain from the first entry and compare every stored
 * hash, link, sequence number and checkpoint. A broken chain is a result (intact = 0), not an
 * error; errors are for not being able to read (CW_EDB, CW_EIO, CW_ENOMEM).
 */
int cw_store_audit_verify(cw_store_t *st, cw_audit_report_t *out, char *diag, size_t diag_len);

/* ---- retention ---- */

typedef struct cw_store_retention {
    int64_t flight_token_after; /* seconds after departure a flight token goes (0: 24 h) */
} cw_store_retention_t;

typedef struct cw_store_purge_item {
    uint64_t traveller;
    cw_programme_t programme; /* the membership that ends */
    int whole_record;         /* 1: the traveller had nothing else, the record goes */
} cw_store_purge_item_t;

typedef struct cw_store_purge_report {
    size_t n_items;
    cw_store_purge_item_t *items; /* owned: cw_store_purge_report_free */
    size_t n_templates;
    uint64_t *template_ids; /* templates deleted (dry run: that would be); owned */
} cw_store_purge_report_t;

/*
 * cw_store_purge: apply retention at now: flight-token memberships whose departure is older
 * than policy->flight_token_after go; a traveller left with no membership goes with all his
 * data. dry_run lists without deleting. On SQLite the freed pages are overwritten
 * (secure_delete) and the WAL is checkpointed and truncated, so no deleted template remains in
 * the files. Fills *report (free with cw_store_purge_report_free, also after an error).
 */
int cw_store_purge(cw_store_t *st, int64_t now, const cw_store_retention_t *policy, int dry_run,
                   const char *actor, cw_store_purge_report_t *report, char *diag, size_t diag_len);
void cw_store_purge_report_free(cw_store_purge_report_t *report);

/* ---- keys ---- */

/*
 * cw_store_rekey_step: re-encrypt up to batch rows still under an older key with the current
 * key, in one transaction; *remaining is what is left afterwards. Interrupting between steps
 * (or killing the process) is safe: every ciphertext names its key. Errors as cw_store_enrol.
 */
int cw_store_rekey_step(cw_store_t *st, size_t batch, uint64_t *done, uint64_t *remaining,
                        char *diag, size_t diag_len);

/*
 * cw_store_key_file_add: generate a new random key and make it the current one in key_file
 * (created if absent, mode 0600, replaced atomically); older keys stay for decryption.
 * cw_store_key_file_retire: drop every key but the current one (after a finished rotation).
 */
int cw_store_key_file_add(const char *key_file, char *diag, size_t diag_len);
int cw_store_key_file_retire(const char *key_file, char *diag, size_t diag_len);

/* The key file cw_store_open would use for target and cfg, into buf. CW_ENOENT if none. */
int cw_store_key_file_path(const char *target, const cw_store_config_t *cfg, char *buf, size_t cap);

/* ==== schema version 2: gates by code, API keys, QR tokens, touchpoints, referrals ==== */

/* ---- ports and gates by code ---- */

typedef struct cw_store_gate {
    uint64_t id, port;
    char port_code[CW_STORE_CODE_MAX];
    char code[CW_STORE_CODE_MAX];
    cw_programme_t programme;
    int touchpoint; /* flight token gates: a cw_touchpoint_t (declared below); else 0 */
} cw_store_gate_t;

/* The port with this code (CW_ENOENT if none). */
int cw_store_port_find(cw_store_t *st, const char *code, uint64_t *id, char *diag, size_t diag_len);
/* The gate with this code at the port with this code (CW_ENOENT if either is unknown). */
int cw_store_gate_find(cw_store_t *st, const char *port_code, const char *gate_code,
                       cw_store_gate_t *out, char *diag, size_t diag_len);
/* The gate with this id (CW_ENOENT). */
int cw_store_gate_get(cw_store_t *st, uint64_t id, cw_store_gate_t *out, char *diag,
                      size_t diag_len);
/* Set a flight-token gate's touchpoint (a cw_touchpoint_t; NONE for any gate), audited.
 * CW_ENOENT, CW_EINVAL (unknown touchpoint, or a touchpoint for a gate of another programme). */
int cw_store_gate_set_touchpoint(cw_store_t *st, uint64_t gate, int touchpoint, char *diag,
                                 size_t diag_len);

/* ---- API keys (who may call the clearance service) ---- */

typedef enum cw_role {
    CW_ROLE_GATE = 1,    /* a gate device, bound to one gate */
    CW_ROLE_OFFICER = 2, /* referral queue, full records, resolutions */
    CW_ROLE_CLERK = 3,   /* enrolment and records */
    CW_ROLE_ADMIN = 4,   /* keys, configuration, reports */
} cw_role_t;

/* "gate", "officer", "clerk", "admin" ("?" if unknown); and back (0 if unknown). */
const char *cw_role_name(cw_role_t r);
cw_role_t cw_role_parse(const char *s);

enum {
    CW_STORE_APIKEY_LEN = 48, /* "cwk_" + 43 base64url characters + NUL */
    CW_STORE_LABEL_MAX = 64,
};

typedef struct cw_store_apikey {
    uint64_t id;
    cw_role_t role;
    uint64_t gate; /* CW_ROLE_GATE: the gate it is bound to; else 0 */
    char label[CW_STORE_LABEL_MAX];
    int64_t created_at, revoked_at; /* revoked_at 0: in force */
} cw_store_apikey_t;

/*
 * cw_store_apikey_add: make a new random API key (256 bits from libsodium) for role (gate: bound
 * to gate, which must exist; other roles: gate 0), write it to key (shown once: only its BLAKE2b
 * hash is stored) and its id to *id; audited with actor. CW_EINVAL (role, gate for a non-gate
 * role, label too long), CW_ENOENT (no such gate).
 */
int cw_store_apikey_add(cw_store_t *st, cw_role_t role, uint64_t gate, const char *label,
                        int64_t now, const char *actor, char key[CW_STORE_APIKEY_LEN], uint64_t *id,
                        char *diag, size_t diag_len);
/*
 * cw_store_apikey_check: the key's record into *out. CW_ENOENT if no key has this hash (or the
 * text is not a key), CW_EPERM if it was revoked. Compares hashes only; constant work per call.
 * *out is filled on success only (zeroed otherwise).
 */
int cw_store_apikey_check(cw_store_t *st, const char *key, cw_store_apikey_t *out, char *diag,
                          size_t diag_len);
/* Revoke key id (CW_ENOENT; revoking twice is not an error). Audited. */
int cw_store_apikey_revoke(cw_store_t *st, uint64_t id, int64_t now, const char *actor, char *diag,
                           size_t diag_len);
/* Every key (without secrets), oldest first: up to cap into out, the total in *n. */
int cw_store_apikey_list(cw_store_t *st, cw_store_apikey_t *out, size_t cap, size_t *n, char *diag,
                         size_t diag_len);

/* ---- the service's signing key (for the QR tokens of the contactless e-channel) ---- */

/*
 * cw_store_signing_seed: the 32-byte Ed25519 seed of this store, sealed under the data key
 * (so key rotation covers it); made from libsodium's random source on first call. The caller
 * wipes seed after use.
 */
int cw_store_signing_seed(cw_store_t *st, uint8_t seed[32], char *diag, size_t diag_len);

/* ---- QR tokens issued to travellers (their state; the signed text is made by clearance) ---- */

typedef struct cw_store_token {
    uint64_t id, traveller;
    int64_t issued_at, expires_at;
    int64_t revoked_at;   /* 0: in force */
    int64_t last_used_at; /* 0: never used */
} cw_store_token_t;

/* cw_store_token_add: record a new token for traveller (CW_ENOENT if absent); id in *id. */
int cw_store_token_add(cw_store_t *st, uint64_t traveller, int64_t now, int64_t expires_at,
                       const char *actor, uint64_t *id, char *diag, size_t diag_len);
/* cw_store_token_get: the token's state (CW_ENOENT). */
int cw_store_token_get(cw_store_t *st, uint64_t id, cw_store_token_t *out, char *diag,
                       size_t diag_len);
/* cw_store_token_revoke: revoke (CW_ENOENT; twice is not an error). Audited. */
int cw_store_token_revoke(cw_store_t *st, uint64_t id, int64_t now, const char *actor, char *diag,
                          size_t diag_len);
/*
 * cw_store_token_use: atomically mark the token used at now if it is in force, not expired, and
 * was not used within the last min_gap seconds (anti-passback). *ok = 1 if marked, else 0 with
 * *why one of "revoked", "expired", "reused". CW_ENOENT if no such token.
 */
int cw_store_token_use(cw_store_t *st, uint64_t id, int64_t now, int64_t min_gap, int *ok,
                       const char **why, char *diag, size_t diag_len);

/* ---- flight-token touchpoints ---- */

typedef enum cw_touchpoint {
    CW_TOUCHPOINT_NONE = 0,
    CW_TOUCHPOINT_BAG_DROP = 1,
    CW_TOUCHPOINT_SECURITY = 2,
    CW_TOUCHPOINT_IMMIGRATION = 3,
    CW_TOUCHPOINT_BOARDING = 4,
} cw_touchpoint_t;

/* "bag_drop", "security", "immigration", "boarding" ("none"); and back (NONE if unknown). */
const char *cw_touchpoint_name(cw_touchpoint_t t);
cw_touchpoint_t cw_touchpoint_parse(const char *s);

/* Record that traveller passed touchpoint t at gate at now (for booking, the membership's),
 * audited. CW_ENOENT (no flight-token membership, no such gate), CW_EINVAL (t). */
int cw_store_touchpoint_pass(cw_store_t *st, uint64_t traveller, cw_touchpoint_t t, uint64_t gate,
                             int64_t now, char *diag, size_t diag_len);
/*
 * The touchpoints traveller has passed on the flight-token membership in force (booking of the
 * membership), as a bit mask (1u << t). 0 if none.
 */
int cw_store_touchpoint_passed(cw_store_t *st, uint64_t traveller, uint32_t *mask, char *diag,
                               size_t diag_len);

/* ---- clearance outcomes, referral queue, resolutions, timelines ---- */

enum { CW_STORE_REASON_MAX = 32, CW_STORE_NOTE_MAX = 512, CW_STORE_STEP_MAX = 32 };

/*
 * cw_store_clearance_finish: end an open transaction with decision and a reason code (e.g.
 * "NO_MATCH", "" when cleared) and the traveller it concerned (0: none identified), in one
 * transaction, audited; traveller 0 keeps the one given at begin. CW_ENOENT, CW_ESTATE (decided
 * already).
 */
int cw_store_clearance_finish(cw_store_t *st, uint64_t txn, int64_t now,
                              cw_clearance_decision_t decision, const char *reason,
                              uint64_t traveller, char *diag, size_t diag_len);

typedef struct cw_store_clearance {
    uint64_t id, gate, traveller;
    cw_programme_t programme;
    int64_t started_at, ended_at;
    cw_clearance_decision_t decision;
    char reason[CW_STORE_REASON_MAX];
    /* officer resolution of a referral (resolved_at 0: open) */
    int64_t resolved_at;
    cw_clearance_decision_t outcome; /* CLEARED or REJECTED */
    char resolved_by[CW_STORE_LABEL_MAX];
    char note[CW_STORE_NOTE_MAX]; /* encrypted at rest */
} cw_store_clearance_t;

typedef struct cw_store_clearance_step {
    int64_t at;
    char step[CW_STORE_STEP_MAX];
    char result[CW_STORE_STEP_MAX];
    double score; /* NAN when none */
} cw_store_clearance_step_t;

/*
 * cw_store_clearance_get: one transaction, and up to cap of its steps in order into steps
 * (may be NULL with cap 0), their total in *n_steps. CW_ENOENT.
 */
int cw_store_clearance_get(cw_store_t *st, uint64_t txn, cw_store_clearance_t *out,
                           cw_store_clearance_step_t *steps, size_t cap, size_t *n_steps,
                           char *diag, size_t diag_len);
/*
 * cw_store_referrals: referred transactions, newest first, with id < before (0: from the
 * newest); open_only skips resolved ones. Up to cap into out, how many in *n.
 */
int cw_store_referrals(cw_store_t *st, int open_only, uint64_t before, cw_store_clearance_t *out,
                       size_t cap, size_t *n, char *diag, size_t diag_len);
/*
 * cw_store_referral_resolve: an officer's resolution of a referred transaction: outcome
 * CLEARED or REJECTED, a note (may be empty), in one transaction, audited with officer.
 * CW_ENOENT, CW_ESTATE (not referred, or resolved already), CW_EINVAL (outcome, officer empty),
 * CW_ETOOBIG (note or officer too long).
 */
int cw_store_referral_resolve(cw_store_t *st, uint64_t txn, int64_t now,
                              cw_clearance_decision_t outcome, const char *officer,
                              const char *note, char *diag, size_t diag_len);

/*
 * cw_store_report_each: clearance counts over [from, to) (started_at), grouped by local
 * (UTC+8) day, port, programme, decision and reason; port_code NULL for every port. fn is
 * called once per group; a non-zero return stops the walk and is returned.
 */
typedef struct cw_store_report_row {
    cw_date_t day;
    char port[CW_STORE_CODE_MAX];
    cw_programme_t programme;
    cw_clearance_decision_t decision;
    char reason[CW_STORE_REASON_MAX];
    uint64_t count;
} cw_store_report_row_t;
typedef int (*cw_store_report_fn)(void *ctx, const cw_store_report_row_t *row);
int cw_store_report_each(cw_store_t *st, int64_t from, int64_t to, const char *port_code,
                         cw_store_report_fn fn, void *ctx, char *diag, size_t diag_len);

/*
 * cw_store_audit_each: audit entries whose subject equals subject (NULL: all) with seq >
 * after, in order; fn gets each (strings borrowed for the call); non-zero stops the walk.
 */
typedef struct cw_store_audit_entry {
    uint64_t seq;
    int64_t at;
    const char *actor, *action, *subject, *detail;
} cw_store_audit_entry_t;
typedef int (*cw_store_audit_fn)(void *ctx, const cw_store_audit_entry_t *e);
int cw_store_audit_each(cw_store_t *st, const char *subject, uint64_t after, cw_store_audit_fn fn,
                        void *ctx, char *diag, size_t diag_len);

/*
 * cw_store_template_each_in: as cw_store_template_each, restricted to travellers with a
 * membership of programme (0: any: each template once, with the traveller's first membership),
 * status ACTIVE or REVIEW alike; the membership is passed too (for flight tokens, its
 * departure).
 */
typedef int (*cw_store_member_template_fn)(void *ctx, uint64_t traveller,
                                           const cw_store_membership_t *m,
                                           const cw_store_template_t *t, const void *data,
                                           size_t len);
int cw_store_template_each_in(cw_store_t *st, cw_modality_t modality, cw_programme_t programme,
                              cw_store_member_template_fn fn, void *ctx, char *diag,
                              size_t diag_len);

/* Delete traveller id with all his data, in one transaction, audited (CW_ENOENT). The ids of
 * the deleted templates are written as in cw_store_consent_withdraw. */
int cw_store_traveller_delete(cw_store_t *st, uint64_t id, int64_t now, const char *actor,
                              uint64_t *removed, size_t cap, size_t *n_removed, char *diag,
                              size_t diag_len);

/* ==== schema version 3: passenger totals ==== */

/*
 * The port operator's passenger counts for a port and local (UTC+8) day, the denominator of
 * the published statistic "users of a mode as a share of passengers". Entered by an
 * administrator; a count above CW_STORE_PASSENGERS_MAX (far above any port's day) is refused
 * as a typing error rather than stored.
 */
enum { CW_STORE_PASSENGERS_MAX = 100000000 };

typedef struct cw_store_passengers {
    cw_date_t day;
    char port[CW_STORE_CODE_MAX];
    int64_t departing, arriving;
} cw_store_passengers_t;

/*
 * cw_store_passengers_set: set (insert or replace) the totals of the port with code port_code
 * for day, in one transaction, audited with actor ("passengers_set", subject
 * "passengers:PORT/DAY"). CW_ENOENT (no such port), CW_EINVAL (invalid day, a negative count,
 * NULL), CW_ETOOBIG (a count above CW_STORE_PASSENGERS_MAX), CW_EPERM (read-only); nothing is
 * written on error.
 */
int cw_store_passengers_set(cw_store_t *st, const char *port_code, const cw_date_t *day,
                            int64_t departing, int64_t arriving, int64_t now, const char *actor,
                            char *diag, size_t diag_len);
/*
 * cw_store_passengers_each: the totals entered for the days from .. to (both included), of the
 * port with code port_code (NULL: every port), ordered by day then port code. fn gets each row
 * (borrowed for the call); a non-zero return stops the walk and is returned. CW_EINVAL for an
 * invalid date; to before from gives no rows.
 */
typedef int (*cw_store_passengers_fn)(void *ctx, const cw_store_passengers_t *row);
int cw_store_passengers_each(cw_store_t *st, const cw_date_t *from, const cw_date_t *to,
                             const char *port_code, cw_store_passengers_fn fn, void *ctx,
                             char *diag, size_t diag_len);

#ifdef __cplusplus
}
#endif
#endif
