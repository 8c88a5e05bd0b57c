// SPDX-License-Identifier: Apache-2.0
// Gallery snapshots: the live rows (id and float template) behind a fixed header, written to a
// temporary file and renamed into place (a crash never leaves a half-written snapshot), and
// loaded by mapping the file, checking every field and a BLAKE2b-256 hash of the payload before
// any row is used. The int8 scan copy is rebuilt at load (it is a pure function of the floats),
// so a snapshot cannot carry a scan copy that disagrees with its templates.
//
// Layout (little-endian):
//   0  magic "CWGALLRY"      8  format version (u32) = 1   12 dim (u32)   16 modality (u32)
//   20 model id (u32)        24 model version (u32)        28 reserved (u32, 0)
//   32 row count (u64)       40 payload bytes (u64)        48 BLAKE2b-256 of the payload (32)
//   80..127 reserved (0)
//   128 payload: count x (id u64, dim x float32)
#include "clearway/alloc.h"
#include "clearway/err.h"
#include "gallery_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "CWGALLRY"
enum { FORMAT_VERSION = 1, HEADER_BYTES = 128, HASH_BYTES = 32 };

static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cw_gallery_save(const cw_gallery_t *g, const char *path, char *diag, size_t diag_len)
{
    if (g == NULL || path == NULL) {
        return CW_EINVAL;
    }
    if (sodium_init() < 0) {
        return cw_diag_set(diag, diag_len, CW_ECRYPTO, "libsodium failed to initialise");
    }
    char tmp[4096];
    int len = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (len < 0 || (size_t)len >= sizeof(tmp)) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "path too long");
    }
    cw_gallery_t *m = (cw_gallery_t *)g;
    pthread_rwlock_rdlock(&m->lock);
    const uint32_t dim = g->cfg.dim;
    const size_t row_bytes = 8 + (size_t)dim * sizeof(float);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = cw_diag_set(diag, diag_len, CW_EIO, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    uint8_t header[HEADER_BYTES] = {0};
    memcpy(header, MAGIC, 8);
    put_u32(header + 8, FORMAT_VERSION);
    put_u32(header + 12, dim);
    put_u32(header + 16, g->cfg.modality);
    put_u32(header + 20, g->cfg.model_id);
    put_u32(header + 24, g->cfg.model_version);
    put_u64(header + 32, g->n_live);
    put_u64(header + 40, (uint64_t)g->n_live * row_bytes);
    // The hash goes in last: write the header now, rewrite it at the end.
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, HASH_BYTES);
    if (write_all(fd, header, sizeof(header)) != 0) {
        rc = CW_EIO;
    }
    uint8_t buf[8 + CW_GALLERY_MAX_DIM * sizeof(float)];
    for (size_t r = 0; r < g->n_rows && rc == 0; r++) {
        if (g->scale[r] == 0.0f) { // removed
            continue;
        }
        put_u64(buf, g->ids[r]);
        memcpy(buf + 8, g->f + r * dim, (size_t)dim * sizeof(float));
        crypto_generichash_update(&st, buf, row_bytes);
        if (write_all(fd, buf, row_bytes) != 0) {
            rc = CW_EIO;
        }
    }
    sodium_memzero(buf, sizeof(buf));
    crypto_generichash_final(&st, header + 48, HASH_BYTES);
    if (rc == 0 && (lseek(fd, 0, SEEK_SET) != 0 || write_all(fd, header, sizeof(header)) != 0 ||
                    fsync(fd) != 0)) {
        rc = CW_EIO;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = CW_EIO;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = CW_EIO;
    }
    if (rc != 0) {
        int e = errno;
        unlink(tmp);
        cw_diag_set(diag, diag_len, rc, "cannot write %s: %s", path, strerror(e));
    }
out:
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

// The loader proper, over bytes in memory (the fuzz target's entry point too).
int cw__gallery_load_mem(const uint8_t *p, size_t len, cw_gallery_t **out, char *diag,
                         size_t diag_len);

int cw__gallery_load_mem(const uint8_t *p, size_t len, cw_gallery_t **out, char *diag,
                         size_t diag_len)
{
    *out = NULL;
    if (len < HEADER_BYTES || memcmp(p, MAGIC, 8) != 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "not a gallery snapshot (bad magic)");
    }
    if (get_u32(p + 8) != FORMAT_VERSION) {
        return cw_diag_set(diag, diag_len, CW_EUNSUPPORTED,
                           "snapshot format version %u (this "
                           "build reads %d)",
                           get_u32(p + 8), FORMAT_VERSION);
    }
    cw_gallery_config_t cfg = {get_u32(p + 12), get_u32(p + 16), get_u32(p + 20), get_u32(p + 24),
                               0};
    if (cfg.dim < CW_GALLERY_MIN_DIM || cfg.dim > CW_GALLERY_MAX_DIM) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "snapshot dimension %u out of range",
                           cfg.dim);
    }
    uint64_t count = get_u64(p + 32);
    uint64_t payload = get_u64(p + 40);
    const size_t row_bytes = 8 + (size_t)cfg.dim * sizeof(float);
    size_t want;
    if (count > CW__GALLERY_MAX_ROWS || cw_size_mul((size_t)count, row_bytes, &want) != 0 ||
        want != payload) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "snapshot row count and size disagree");
    }
    if (len - HEADER_BYTES != payload) {
        return cw_diag_set(diag, diag_len, CW_ECORRUPT,
                           "snapshot is %zu bytes, header says %llu: truncated or extended", len,
                           (unsigned long long)(payload + HEADER_BYTES));
    }
    if (sodium_init() < 0) {
        return cw_diag_set(diag, diag_len, CW_ECRYPTO, "libsodium failed to initialise");
    }
    uint8_t h[HASH_BYTES];
    crypto_generichash(h, HASH_BYTES, p + HEADER_BYTES, (unsigned long long)payload, NULL, 0);
    if (sodium_memcmp(h, p + 48, HASH_BYTES) != 0) {
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "snapshot checksum mismatch");
    }
    cfg.capacity = (size_t)count;
    cw_gallery_t *g;
    int rc = cw_gallery_create(&cfg, &g);
    if (rc != 0) {
        return rc;
    }
    float v[CW_GALLERY_MAX_DIM];
    for (uint64_t i = 0; i < count && rc == 0; i++) {
        const uint8_t *row = p + HEADER_BYTES + i * row_bytes;
        memcpy(v, row + 8, (size_t)cfg.dim * sizeof(float));
        rc = cw_gallery_add(g, get_u64(row), v);
        if (rc == CW_EINVAL || rc == CW_EEXIST) {
            rc = cw_diag_set(diag, diag_len, CW_ECORRUPT, "snapshot row %llu: %s",
                             (unsigned long long)i,
                             rc == CW_EEXIST ? "duplicate id" : "invalid template");
        }
    }
    cw_memzero(v, sizeof(v));
    if (rc != 0) {
        cw_gallery_destroy(g);
        return rc;
    }
    *out = g;
    return 0;
}

int cw_gallery_load(const char *path, cw_gallery_t **out, char *diag, size_t diag_len)
{
    if (path == NULL || out == NULL) {
        return CW_EINVAL;
    }
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return cw_diag_set(diag, diag_len, errno == ENOENT ? CW_ENOENT : CW_EIO,
                           "cannot open %s: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return cw_diag_set(diag, diag_len, CW_EIO, "%s is not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    if (len < HEADER_BYTES) {
        close(fd);
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "%s: too short for a gallery snapshot",
                           path);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        return cw_diag_set(diag, diag_len, CW_EIO, "cannot map %s: %s", path, strerror(errno));
    }
    posix_madvise(map, len, POSIX_MADV_SEQUENTIAL);
    int rc = cw__gallery_load_mem(map, len, out, diag, diag_len);
    munmap(map, len);
    return rc;
}
