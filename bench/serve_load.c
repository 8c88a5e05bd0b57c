// SPDX-License-Identifier: Apache-2.0
// serve_load: the front gate of the document-free channel under load, over HTTP on loopback.
// A gallery of --travellers rows (real enrolled travellers from the face-api sample photos plus
// synthetic distractor templates), `clearway serve` started as a separate process, and
// --clients concurrent gate clients in this process, each opening a transaction and posting a
// 640x480 JPEG face capture, for --seconds. Reports decisions per second, latency p50/p99 of
// the face request (and the server's own split from its Server-Timing header: decode + face
// pipeline, search + decision), errors, and the server's RSS over the run. The peer in the
// same run: the same front-gate steps called in-process (cw_clearance_step, no HTTP) on the
// same gallery with 2 threads.
#include "clearway/alloc.h"
#include "clearway/clearance.h"
#include "clearway/cpu.h"
#include "clearway/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */

#include <jpeglib.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "serve_load: %s %s\n", what, detail);
    exit(1);
}

/* Case-insensitive search for a header name (strcasestr is a GNU extension). */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay != '\0'; hay++) {
        size_t i = 0;
        while (i < n && hay[i] != '\0' && (hay[i] | 0x20) == (needle[i] | 0x20)) {
            i++;
        }
        if (i == n) {
            return hay;
        }
    }
    return NULL;
}

/* ---- probes: 640x480 JPEG captures around the sample photos' faces ---- */

typedef struct buf {
    uint8_t *p;
    size_t n;
} buf_t;

static buf_t jpeg_encode(const cw_image_t *img)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &out, &n);
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)img->height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = img->data + (size_t)c.next_scanline * img->stride;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    buf_t b = {malloc(n), n};
    memcpy(b.p, out, n);
    free(out);
    return b;
}

/* A 4:3 crop 3.2 face-widths wide around face f, resized to 640x480. */
static int capture_of(const cw_image_t *img, const cw_face_t *f, cw_image_t *out)
{
    double w = 3.2 * (f->x1 - f->x0), h = w * 3 / 4;
    double cx = (f->x0 + f->x1) / 2, cy = (f->y0 + f->y1) / 2;
    int x0 = (int)(cx - w / 2), y0 = (int)(cy - h / 2), iw = (int)w, ih = (int)h;
    cw_image_t c;
    if (cw_image_alloc(iw, ih, 3, &c) != 0) {
        return -1;
    }
    for (int y = 0; y < ih; y++) {
        for (int x = 0; x < iw; x++) {
            int sx = x0 + x < 0 ? 0 : x0 + x >= img->width ? img->width - 1 : x0 + x;
            int sy = y0 + y < 0 ? 0 : y0 + y >= img->height ? img->height - 1 : y0 + y;
            memcpy(c.data + (size_t)y * c.stride + (size_t)x * 3,
                   img->data + (size_t)sy * img->stride + (size_t)sx * 3, 3);
        }
    }
    int err = cw_image_resize(&c, 640, 480, out);
    cw_image_free(&c);
    return err;
}

enum { MAX_PROBES = 64 };
static buf_t probes[MAX_PROBES];
static int n_probes;

/* ---- a minimal HTTP/1.1 keep-alive client ---- */

typedef struct conn {
    int fd;
    int port;
    char *rx;
    size_t rx_cap;
} conn_t;

static int conn_open(conn_t *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)c->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0) {
            return -1;
        }
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One request; the status, the body (NUL-terminated in c->rx) and a header's value. */
static int request(conn_t *c, const char *method, const char *path, const char *auth,
                   const char *body, size_t body_len, int *status, const char **resp_body,
                   const char *want_header, char *header_val, size_t header_cap)
{
    if (c->fd < 0 && conn_open(c) != 0) {
        return -1;
    }
    char head[1024];
    int hn = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, auth, body_len);
    if (send_all(c->fd, head, (size_t)hn) != 0 ||
        (body_len > 0 && send_all(c->fd, body, body_len) != 0)) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    size_t got = 0, need = 0, hdr_end = 0;
    for (;;) {
        if (got + 4096 + 1 > c->rx_cap) {
            c->rx_cap = (got + 4096 + 1) * 2;
            c->rx = realloc(c->rx, c->rx_cap);
        }
        ssize_t k = recv(c->fd, c->rx + got, c->rx_cap - got - 1, 0);
        if (k <= 0) {
            close(c->fd);
            c->fd = -1;
            return -1;
        }
        got += (size_t)k;
        c->rx[got] = '\0';
        if (hdr_end == 0) {
            char *e = strstr(c->rx, "\r\n\r\n");
            if (e == NULL) {
                continue;
            }
            hdr_end = (size_t)(e - c->rx) + 4;
            const char *cl = find_ci(c->rx, "\r\nContent-Length:");
            need = hdr_end + (cl != NULL && cl < e ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (got >= need) {
            break;
        }
    }
    *status = atoi(c->rx + 9);
    if (header_val != NULL) {
        header_val[0] = '\0';
        char pat[64];
        snprintf(pat, sizeof(pat), "\r\n%s:", want_header);
        const char *h = find_ci(c->rx, pat);
        if (h != NULL && (size_t)(h - c->rx) < hdr_end) {
            h += strlen(pat);
            const char *end = strstr(h, "\r\n");
            size_t n = (size_t)(end - h) < header_cap - 1 ? (size_t)(end - h) : header_cap - 1;
            memcpy(header_val, h, n);
            header_val[n] = '\0';
        }
    }
    *resp_body = c->rx + hdr_end;
    return 0;
}

static char *base64(const buf_t *b)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((b->n + 2) / 3 * 4 + 1), *q = o;
    size_t i = 0;
    for (; i + 2 < b->n; i += 3) {
        uint32_t v = (uint32_t)b->p[i] << 16 | (uint32_t)b->p[i + 1] << 8 | b->p[i + 2];
        *q++ = t[v >> 18], *q++ = t[(v >> 12) & 63], *q++ = t[(v >> 6) & 63], *q++ = t[v & 63];
    }
    if (i < b->n) {
        uint32_t v = (uint32_t)b->p[i] << 16 | (i + 1 < b->n ? (uint32_t)b->p[i + 1] << 8 : 0);
        *q++ = t[v >> 18], *q++ = t[(v >> 12) & 63];
        *q++ = i + 1 < b->n ? t[(v >> 6) & 63] : '=';
        *q++ = '=';
    }
    *q = '\0';
    return o;
}

/* ---- the load ---- */

typedef struct sample {
    float total, pipeline, search; /* ms; -1 when the server did not say */
} sample_t;

typedef struct client {
    int id, port;
    double interval; /* ms between a client's captures (0: back to back) */
    const char *key, *gate;
    double until;
    char **bodies;
    size_t *body_lens;
    sample_t *s;
    size_t n, cap;
    size_t errors;
    char first_error[256];
} client_t;

static float timing_of(const char *h, const char *name)
{
    const char *p = strstr(h, name);
    if (p == NULL) {
        return -1;
    }
    p = strstr(p, "dur=");
    return p != NULL ? strtof(p + 4, NULL) : -1;
}

static void *client_main(void *arg)
{
    client_t *cl = arg;
    conn_t c = {-1, cl->port, NULL, 0};
    char path[256], timing[512];
    unsigned k = (unsigned)cl->id * 7919u;
    // Paced clients start spread over one interval, like gates that are not in step.
    double next = now_ms() + (cl->interval > 0 ? cl->interval * cl->id / 50.0 : 0);
    while (now_ms() < cl->until) {
        if (cl->interval > 0) {
            double wait = next - now_ms();
            if (wait > 0) {
                struct timespec ts = {(time_t)(wait / 1e3), (long)(fmod(wait, 1e3) * 1e6)};
                nanosleep(&ts, NULL);
            }
            next += cl->interval;
            if (now_ms() >= cl->until) {
                break;
            }
        }
        int status = 0;
        const char *body = NULL;
        snprintf(path, sizeof(path), "/v1/gates/%s/transactions", cl->gate);
        if (request(&c, "POST", path, cl->key, "{}", 2, &status, &body, NULL, NULL, 0) != 0 ||
            status != 201) {
            if (cl->errors++ == 0) {
                snprintf(cl->first_error, sizeof(cl->first_error), "begin: %d %.200s", status,
                         body != NULL ? body : "(connection)");
            }
            continue;
        }
        const char *t = strstr(body, "\"txn\"");
        unsigned long long txn = t != NULL ? strtoull(strchr(t, ':') + 1, NULL, 10) : 0;
        snprintf(path, sizeof(path), "/v1/gates/%s/transactions/%llu/face", cl->gate, txn);
        int i = (int)(k++ % (unsigned)n_probes);
        double t0 = now_ms();
        int rc = request(&c, "POST", path, cl->key, cl->bodies[i], cl->body_lens[i], &status, &body,
                         "Server-Timing", timing, sizeof(timing));
        double ms = now_ms() - t0;
        if (rc != 0 || status != 200) {
            if (cl->errors++ == 0) {
                snprintf(cl->first_error, sizeof(cl->first_error), "face: %d %.200s", status,
                         body != NULL ? body : "(connection)");
            }
            continue;
        }
        if (cl->n == cl->cap) {
            cl->cap = cl->cap ? cl->cap * 2 : 256;
            cl->s = realloc(cl->s, cl->cap * sizeof(sample_t));
        }
        float dec = timing_of(timing, "decode"), face = timing_of(timing, "face");
        float search = timing_of(timing, "search"), decide = timing_of(timing, "decision");
        cl->s[cl->n++] = (sample_t){(float)ms, dec >= 0 && face >= 0 ? dec + face : -1,
                                    search >= 0 ? search + (decide > 0 ? decide : 0) : -1};
    }
    if (c.fd >= 0) {
        close(c.fd);
    }
    free(c.rx);
    return NULL;
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void pct(float *v, size_t n, float *p50, float *p99)
{
    qsort(v, n, sizeof(float), cmp_f);
    *p50 = n ? v[n / 2] : NAN;
    *p99 = n ? v[(size_t)((double)(n - 1) * 0.99)] : NAN;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}

/* ---- the in-process peer ---- */

typedef struct peer {
    cw_clearance_t *c;
    uint64_t gate;
    double until;
    size_t n;
    float *ms;
    size_t cap;
    int id;
} peer_t;

static void *peer_main(void *arg)
{
    peer_t *p = arg;
    unsigned k = (unsigned)p->id * 7919u;
    while (now_ms() < p->until) {
        cw_clearance_reply_t r;
        if (cw_clearance_begin(p->c, p->gate, time(NULL), "bench", &r, NULL, 0) != 0) {
            continue;
        }
        int i = (int)(k++ % (unsigned)n_probes);
        cw_clearance_event_t ev = {
            .type = CW_EV_FACE, .face = probes[i].p, .face_len = probes[i].n};
        double t0 = now_ms();
        if (cw_clearance_step(p->c, p->gate, r.txn, &ev, time(NULL), "bench", &r, NULL, 0) != 0) {
            continue;
        }
        if (r.action == CW_ACTION_SHOW_CONFIRMATION) {
            cw_clearance_event_t ab = {.type = CW_EV_ABANDON};
            (void)cw_clearance_step(p->c, p->gate, r.txn, &ab, time(NULL), "bench", &r, NULL, 0);
        }
        if (p->n == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 256;
            p->ms = realloc(p->ms, p->cap * sizeof(float));
        }
        p->ms[p->n++] = (float)(now_ms() - t0);
    }
    return NULL;
}

/* ---- set-up ---- */

static void usage(void)
{
    printf("Usage: serve_load [--travellers N] [--clients N] [--seconds S] [--rate R] [--port P]\n"
           "                  [--work DIR] [--clearway PATH] [--peer-seconds S]\n"
           "Defaults: 1000000 travellers, 50 clients, 60 s, port 18080, work dir\n"
           "build/serve_load, clearway at build/release/src/cli/clearway, peer 20 s (0: none).\n"
           "Without --rate every client sends its next capture as soon as the last is answered\n"
           "(the most the server can do; latency is then clients / throughput). With --rate R\n"
           "the clients together offer R captures per second, each at a steady pace, like gates\n"
           "with travellers walking up (latency at that load).\n");
}

int main(int argc, char **argv)
{
    size_t travellers = 1000000;
    int clients = 50, seconds = 60, port = 18080, peer_seconds = 20;
    double rate = 0;
    const char *work = "build/serve_load", *clearway = "build/release/src/cli/clearway";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        }
        if (i + 1 >= argc) {
            die("unknown argument (see --help):", a);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--travellers") == 0) {
            travellers = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--clients") == 0) {
            clients = atoi(v);
        } else if (strcmp(a, "--seconds") == 0) {
            seconds = atoi(v);
        } else if (strcmp(a, "--rate") == 0) {
            rate = atof(v);
        } else if (strcmp(a, "--port") == 0) {
            port = atoi(v);
        } else if (strcmp(a, "--work") == 0) {
            work = v;
        } else if (strcmp(a, "--clearway") == 0) {
            clearway = v;
        } else if (strcmp(a, "--peer-seconds") == 0) {
            peer_seconds = atoi(v);
        } else {
            die("unknown argument (see --help):", a);
        }
    }
    if (clients < 1 || clients > 1000 || seconds < 1 || travellers < 16) {
        die("bad --clients, --seconds or --travellers", "");
    }
    const char *deps = getenv("CLEARWAY_DEPS") != NULL ? getenv("CLEARWAY_DEPS") : ".deps";
    char feat[256];
    cw_cpu_describe(cw_cpu_features(), feat, sizeof(feat));
    printf("serve_load: %s, %d CPUs, features: %s\n", cw_cpu_model_name(), cw_cpu_count(), feat);
    mkdir(work, 0700);
    char db[512], snap[512], cfgpath[512], keyfile[600];
    snprintf(db, sizeof(db), "%s/bench.db", work);
    snprintf(snap, sizeof(snap), "%s/distractors.cwg", work);
    snprintf(cfgpath, sizeof(cfgpath), "%s/clearway.json", work);
    unlink(db);
    snprintf(keyfile, sizeof(keyfile), "%s.key", db);
    unlink(keyfile);
    snprintf(keyfile, sizeof(keyfile), "%s.admin-key", db);
    unlink(keyfile);

    // Real travellers: every face of the sample photos, enrolled (half of them) through the
    // service; all of them become probes.
    cw_face_config_t fc = {0};
    fc.deps_dir = deps;
    cw_face_engine_t *engine;
    cw_face_session_t *fs;
    char diag[256] = "";
    if (cw_face_engine_create(&fc, &engine, diag, sizeof(diag)) != 0 ||
        cw_face_session_create(engine, &fs, diag, sizeof(diag)) != 0) {
        die("face engine:", diag);
    }
    uint32_t model_id, model_version, dim;
    cw_face_engine_model(engine, &model_id, &model_version, &dim);
    buf_t enrol_photo[MAX_PROBES];
    for (int s = 1; s <= 6 && n_probes < MAX_PROBES; s++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/npm/face-api/demo/sample%d.jpg", deps, s);
        cw_image_t img;
        if (cw_image_load(path, CW_IMAGE_RGB, NULL, &img, diag, sizeof(diag)) != 0) {
            die("sample photo:", diag);
        }
        cw_face_t faces[16];
        int n = 0;
        cw_face_detect(fs, &img, faces, 16, &n);
        for (int j = 0; j < n && j < 16 && n_probes < MAX_PROBES; j++) {
            cw_image_t cap;
            if (capture_of(&img, &faces[j], &cap) == 0) {
                probes[n_probes] = jpeg_encode(&cap);
                enrol_photo[n_probes] = probes[n_probes];
                n_probes++;
                cw_image_free(&cap);
            }
        }
        cw_image_free(&img);
    }
    // Distractors: random unit vectors (the cost of the search is what matters here).
    cw_gallery_config_t gc = {dim, CW_MODALITY_FACE, model_id, model_version, travellers};
    cw_gallery_t *g;
    if (cw_gallery_create(&gc, &g) != 0) {
        die("cannot create the gallery", "");
    }
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    float *v = malloc(dim * sizeof(float));
    size_t n_synth = travellers - (size_t)n_probes / 2;
    for (size_t i = 0; i < n_synth; i++) {
        for (uint32_t d = 0; d < dim; d++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            v[d] = (float)((double)(rng >> 11) / 9007199254740992.0 - 0.5);
        }
        cw_gallery_add(g, ((uint64_t)1 << 40) + i, v);
        if ((i + 1) % 200000 == 0) {
            fprintf(stderr, "\rdistractors: %zu/%zu", i + 1, n_synth);
        }
    }
    fprintf(stderr, "\n");
    free(v);
    if (cw_gallery_save(g, snap, diag, sizeof(diag)) != 0) {
        die("snapshot:", diag);
    }
    cw_gallery_destroy(g);
    cw_face_session_destroy(fs);
    cw_face_engine_destroy(engine);

    FILE *cf = fopen(cfgpath, "w");
    if (cf == NULL) {
        die("cannot write", cfgpath);
    }
    fprintf(cf,
            "{\"listen\": \"127.0.0.1:%d\", \"db\": \"%s\", \"deps_dir\": \"%s\",\n"
            " \"workers\": 2, \"http_threads\": 4, \"distractors\": \"%s\",\n"
            " \"ports\": [{\"code\": \"BEN\", \"name\": \"bench\", \"gates\": [{\"code\": "
            "\"G1\", \"programme\": \"document_free\"}]}]}\n",
            port, db, deps, snap);
    fclose(cf);

    // The in-process service: enrol half the probe faces, then (the peer) time front steps.
    cw_store_t *st;
    uint64_t portid, gateid;
    if (cw_store_open(db, NULL, &st, diag, sizeof(diag)) != 0 ||
        cw_store_port_add(st, "BEN", "bench", &portid, diag, sizeof(diag)) != 0 ||
        cw_store_gate_add(st, portid, "G1", CW_PROGRAMME_DOCUMENT_FREE, &gateid, diag,
                          sizeof(diag)) != 0) {
        die("store:", diag);
    }
    cw_store_close(st);
    cw_clearance_config_t cc;
    memset(&cc, 0, sizeof(cc));
    cc.store = db;
    cc.face.deps_dir = deps;
    cc.workers = 2;
    cc.distractors = snap;
    cw_clearance_t *svc;
    if (cw_clearance_create(&cc, &svc, diag, sizeof(diag)) != 0) {
        die("service:", diag);
    }
    int enrolled = 0;
    for (int i = 0; i < n_probes; i += 2) {
        cw_store_traveller_t t;
        memset(&t, 0, sizeof(t));
        snprintf(t.name_latin, sizeof(t.name_latin), "BENCH Person %d", i);
        snprintf(t.name_local, sizeof(t.name_local), "人%d", i);
        t.birth = (cw_date_t){1980, 1, 1};
        t.residence = CW_RESIDENCE_HONG_KONG;
        snprintf(t.nationality, sizeof(t.nationality), "CHN");
        t.documents[0].type = CW_DOC_HK_IDENTITY_CARD;
        snprintf(t.documents[0].number, sizeof(t.documents[0].number), "B%07d", i);
        t.documents[0].issued = (cw_date_t){2015, 1, 1};
        t.documents[0].expires = (cw_date_t){2045, 1, 1};
        t.n_documents = 1;
        t.memberships[0].programme = CW_PROGRAMME_DOCUMENT_FREE;
        t.memberships[0].enrolled_at = time(NULL);
        t.n_memberships = 1;
        t.consents[0] = (cw_store_consent_t){CW_MODALITY_FACE, time(NULL) - 10, 0};
        t.consents[1] = (cw_store_consent_t){CW_MODALITY_FINGERPRINT, time(NULL) - 10, 0};
        t.n_consents = 2;
        cw_clearance_enrolment_t bio;
        memset(&bio, 0, sizeof(bio));
        bio.face = enrol_photo[i].p;
        bio.face_len = enrol_photo[i].n;
        // A synthetic fingerprint, so the record is eligible for the channel.
        cw_image_t fi;
        cw_finger_template_t ft;
        uint8_t iso[2048];
        size_t iso_len = 0;
        if (cw_finger_synth(500 + (uint32_t)i, 0, NULL, &fi) == 0) {
            if (cw_finger_extract(&fi, &ft, NULL, NULL, 0) == 0 &&
                cw_finger_iso_write(&ft, iso, sizeof(iso), &iso_len) == 0) {
                bio.fingers[0] = iso;
                bio.finger_lens[0] = iso_len;
                bio.finger_is_iso[0] = 1;
                bio.n_fingers = 1;
            }
            cw_image_free(&fi);
        }
        cw_clearance_enrol_result_t res;
        enrolled += cw_clearance_enrol(svc, &t, &bio, time(NULL), "bench", &res, NULL, 0) == 0;
    }
    cw_clearance_stats_t stats;
    cw_clearance_stats(svc, &stats);
    printf("gallery: %llu enrolled travellers + %zu synthetic = %zu rows, d = %u; %d probes "
           "(640x480 JPEG, %d of them enrolled)\n",
           (unsigned long long)stats.gallery_n[CW_PROGRAMME_DOCUMENT_FREE], n_synth,
           n_synth + (size_t)stats.gallery_n[CW_PROGRAMME_DOCUMENT_FREE], dim, n_probes, enrolled);
    float peer_p50 = NAN, peer_p99 = NAN;
    double peer_rate = NAN;
    if (peer_seconds > 0) {
        peer_t p[2];
        pthread_t th[2];
        double until = now_ms() + peer_seconds * 1e3;
        for (int i = 0; i < 2; i++) {
            p[i] = (peer_t){svc, gateid, until, 0, NULL, 0, i};
            pthread_create(&th[i], NULL, peer_main, &p[i]);
        }
        size_t n = 0;
        for (int i = 0; i < 2; i++) {
            pthread_join(th[i], NULL);
            n += p[i].n;
        }
        float *all = malloc((n + 1) * sizeof(float));
        size_t k = 0;
        for (int i = 0; i < 2; i++) {
            memcpy(all + k, p[i].ms, p[i].n * sizeof(float));
            k += p[i].n;
            free(p[i].ms);
        }
        pct(all, n, &peer_p50, &peer_p99);
        peer_rate = (double)n / peer_seconds;
        free(all);
    }
    cw_clearance_destroy(svc);

    // The server, as its own process.
    pid_t pid = fork();
    if (pid == 0) {
        setenv("CLEARWAY_LOG", "warn", 0); // no access line per request: it would cost time
        execl(clearway, clearway, "serve", "--config", cfgpath, (char *)NULL);
        fprintf(stderr, "serve_load: cannot run %s: %s\n", clearway, strerror(errno));
        _exit(127);
    }
    char key[128] = "";
    conn_t probe = {-1, port, NULL, 0};
    double deadline = now_ms() + 600e3;
    for (;;) {
        int status = 0;
        const char *body;
        if (request(&probe, "GET", "/healthz", "", NULL, 0, &status, &body, NULL, NULL, 0) == 0 &&
            status == 200) {
            break;
        }
        int ws;
        if (waitpid(pid, &ws, WNOHANG) == pid || now_ms() > deadline) {
            die("the server did not come up", "");
        }
        struct timespec pause = {0, 200000000};
        nanosleep(&pause, NULL);
    }
    long rss_start = rss_kb(pid);
    // A gate key, made by the admin key the server wrote at first start.
    FILE *kf = fopen(keyfile, "r");
    char admin[128] = "";
    if (kf == NULL || fgets(admin, sizeof(admin), kf) == NULL) {
        die("cannot read the admin key", keyfile);
    }
    fclose(kf);
    admin[strcspn(admin, "\r\n")] = '\0';
    {
        int status = 0;
        const char *body;
        const char *req = "{\"role\": \"gate\", \"gate\": \"BEN.G1\", \"label\": \"bench\"}";
        if (request(&probe, "POST", "/v1/apikeys", admin, req, strlen(req), &status, &body, NULL,
                    NULL, 0) != 0 ||
            status != 201) {
            die("cannot make a gate key:", body != NULL ? body : "");
        }
        const char *k = strstr(body, "\"key\"");
        if (k == NULL || sscanf(strchr(k, ':') + 1, " \"%127[^\"]\"", key) != 1) {
            die("no key in", body);
        }
    }
    char **bodies = malloc((size_t)n_probes * sizeof(char *));
    size_t *body_lens = malloc((size_t)n_probes * sizeof(size_t));
    for (int i = 0; i < n_probes; i++) {
        char *b64 = base64(&probes[i]);
        size_t n = strlen(b64) + 32;
        bodies[i] = malloc(n);
        body_lens[i] = (size_t)snprintf(bodies[i], n, "{\"image\": \"%s\"}", b64);
        free(b64);
    }
    client_t *cl = calloc((size_t)clients, sizeof(client_t));
    pthread_t *th = calloc((size_t)clients, sizeof(pthread_t));
    double t0 = now_ms(), until = t0 + seconds * 1e3;
    for (int i = 0; i < clients; i++) {
        cl[i] = (client_t){.id = i,
                           .interval = rate > 0 ? clients * 1e3 / rate : 0,
                           .port = port,
                           .key = key,
                           .gate = "BEN.G1",
                           .until = until,
                           .bodies = bodies,
                           .body_lens = body_lens};
        pthread_create(&th[i], NULL, client_main, &cl[i]);
    }
    printf("server RSS (MiB) every 5 s:");
    long rss_max = rss_start, rss_min = rss_start;
    while (now_ms() < until) {
        sleep(5);
        long r = rss_kb(pid);
        rss_max = r > rss_max ? r : rss_max;
        rss_min = r < rss_min && r > 0 ? r : rss_min;
        printf(" %.0f", (double)r / 1024);
        fflush(stdout);
    }
    printf("\n");
    size_t n = 0, errors = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        n += cl[i].n;
        errors += cl[i].errors;
    }
    double elapsed = (now_ms() - t0) / 1e3;
    float *tot = malloc((n + 1) * sizeof(float)), *pipe = malloc((n + 1) * sizeof(float)),
          *srch = malloc((n + 1) * sizeof(float));
    size_t np = 0, ns = 0, k = 0;
    for (int i = 0; i < clients; i++) {
        for (size_t j = 0; j < cl[i].n; j++) {
            tot[k++] = cl[i].s[j].total;
            if (cl[i].s[j].pipeline >= 0) {
                pipe[np++] = cl[i].s[j].pipeline;
            }
            if (cl[i].s[j].search >= 0) {
                srch[ns++] = cl[i].s[j].search;
            }
        }
    }
    float p50, p99, pp50, pp99, sp50, sp99;
    pct(tot, n, &p50, &p99);
    pct(pipe, np, &pp50, &pp99);
    pct(srch, ns, &sp50, &sp99);
    char offered[64] = "back to back";
    if (rate > 0) {
        snprintf(offered, sizeof(offered), "offering %.0f per second", rate);
    }
    printf("\n%d clients (%s), %.0f s: %zu front-gate decisions, %.1f per second, %zu errors\n",
           clients, offered, elapsed, n, (double)n / elapsed, errors);
    for (int i = 0; i < clients && errors > 0; i++) {
        if (cl[i].errors > 0) {
            printf("first error: %s\n", cl[i].first_error);
            break;
        }
    }
    printf("| | p50 ms | p99 ms |\n|---|---|---|\n");
    printf("| face request, client side | %.1f | %.1f |\n", p50, p99);
    printf("| decode + face pipeline (server) | %.1f | %.1f |\n", pp50, pp99);
    printf("| search + decision (server) | %.1f | %.1f |\n", sp50, sp99);
    printf("| peer: in-process cw_clearance_step, 2 threads, %.1f per second | %.1f | %.1f |\n",
           peer_rate, peer_p50, peer_p99);
    printf("server RSS: %.0f MiB at start, %.0f..%.0f MiB during the run\n",
           (double)rss_start / 1024, (double)rss_min / 1024, (double)rss_max / 1024);
    if (peer_seconds == 0) {
        printf("(peer not run: --peer-seconds 0)\n");
    }
    printf("targets: p99 <= 250 ms: %s; >= 60 decisions/s: %s; 0 errors: %s\n",
           p99 <= 250 ? "met" : "MISSED", (double)n / elapsed >= 60 ? "met" : "MISSED",
           errors == 0 ? "met" : "MISSED");
    kill(pid, SIGTERM);
    int ws;
    waitpid(pid, &ws, 0);
    return 0;
}
