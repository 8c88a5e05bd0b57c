// SPDX-License-Identifier: Apache-2.0
// Keys and field encryption of the store. Keys come from the caller, CLEARWAY_KEY or a key file
// (mode 0600, one key per line, current first); each key's id is derived from the key itself so
// that every ciphertext can name the key that sealed it. Fields are sealed with
// XChaCha20-Poly1305 under associated data that binds them to their table, field and row id.
#include "store_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { KEY_FILE_MAX = 4096 };

static uint32_t key_id(const unsigned char *key)
{
    unsigned char h[8];
    static const char label[] = "clearway key id";
    crypto_generichash(h, sizeof(h), (const unsigned char *)label, sizeof(label) - 1, key,
                       CW__KEY_BYTES);
    uint32_t id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    sodium_memzero(h, sizeof(h));
    return id;
}

static int add_key(cw__keyring_t *ring, const unsigned char *key, char *diag, size_t diag_len)
{
    uint32_t id = key_id(key);
    for (int i = 0; i < ring->n; i++) {
        if (ring->id[i] == id) {
            return 0; // the same key twice
        }
    }
    if (ring->n >= CW__MAX_KEYS) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "more than %d keys", CW__MAX_KEYS);
    }
    memcpy(ring->key[ring->n], key, CW__KEY_BYTES);
    ring->id[ring->n] = id;
    ring->n++;
    return 0;
}

// One key: 64 hex digits or base64 (with or without padding) of 32 bytes.
static int parse_one(const char *s, size_t len, unsigned char *key)
{
    size_t got = 0;
    if (len == 2 * CW__KEY_BYTES &&
        sodium_hex2bin(key, CW__KEY_BYTES, s, len, NULL, &got, NULL) == 0 && got == CW__KEY_BYTES) {
        return 0;
    }
    const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
        if (sodium_base642bin(key, CW__KEY_BYTES, s, len, NULL, &got, NULL, variants[v]) == 0 &&
            got == CW__KEY_BYTES) {
            return 0;
        }
    }
    sodium_memzero(key, CW__KEY_BYTES);
    return -1;
}

static int parse_list(const char *text, const char *seps, cw__keyring_t *ring, const char *what,
                      char *diag, size_t diag_len)
{
    const char *p = text;
    int index = 0;
    while (*p != '\0') {
        size_t len = strcspn(p, seps);
        // Trim spaces around each key.
        const char *s = p;
        size_t l = len;
        while (l > 0 && (*s == ' ' || *s == '\t' || *s == '\r')) {
            s++;
            l--;
        }
        while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r')) {
            l--;
        }
        if (l > 0) {
            unsigned char key[CW__KEY_BYTES];
            index++;
            if (parse_one(s, l, key) != 0) {
                return cw_diag_set(diag, diag_len, CW_EFORMAT,
                                   "%s: key %d is not 32 bytes of hex or base64", what, index);
            }
            int err = add_key(ring, key, diag, diag_len);
            sodium_memzero(key, sizeof(key));
            if (err != 0) {
                return err;
            }
        }
        p += len;
        if (*p != '\0') {
            p++;
        }
    }
    if (ring->n == 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "%s: no key", what);
    }
    return 0;
}

int cw__keyring_parse(const char *text, cw__keyring_t *ring, char *diag, size_t diag_len)
{
    memset(ring, 0, sizeof(*ring));
    int err = parse_list(text, ",", ring, "key", diag, diag_len);
    if (err != 0) {
        cw__keyring_wipe(ring);
    }
    return err;
}

void cw__keyring_wipe(cw__keyring_t *ring)
{
    sodium_memzero(ring, sizeof(*ring));
}

// Read a key file after checking it is a regular file of ours that nobody else can read.
static int read_key_file(const char *path, char *buf, size_t cap, size_t *len, char *diag,
                         size_t diag_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        return cw_diag_set(diag, diag_len, e == ENOENT ? CW_ENOENT : CW_EIO, "key file %s: %s",
                           path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return cw_diag_set(diag, diag_len, CW_EPERM, "key file %s: not a regular file", path);
    }
    if ((sb.st_mode & 077) != 0) {
        close(fd);
        return cw_diag_set(diag, diag_len, CW_EPERM,
                           "key file %s: mode %03o lets group or others in; chmod 600 it", path,
                           (unsigned)(sb.st_mode & 0777));
    }
    if (sb.st_uid != geteuid()) {
        close(fd);
        return cw_diag_set(diag, diag_len, CW_EPERM, "key file %s: owned by another user", path);
    }
    size_t n = 0;
    for (;;) {
        if (n + 1 >= cap) {
            close(fd);
            sodium_memzero(buf, cap);
            return cw_diag_set(diag, diag_len, CW_ETOOBIG, "key file %s: too large", path);
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int e = errno;
            close(fd);
            sodium_memzero(buf, cap);
            return cw_diag_set(diag, diag_len, CW_EIO, "key file %s: %s", path, strerror(e));
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return 0;
}

// Write text as the key file, atomically (temporary file, fsync, rename), mode 0600.
static int write_key_file(const char *path, const char *text, char *diag, size_t diag_len)
{
    char tmp[1100];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >= sizeof(tmp)) {
        return cw_diag_set(diag, diag_len, CW_ETOOBIG, "key file path too long");
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        return cw_diag_set(diag, diag_len, CW_EIO, "key file %s: %s", tmp, strerror(e));
    }
    size_t len = strlen(text), off = 0;
    int err = 0;
    while (off < len && err == 0) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            err = cw_diag_set(diag, diag_len, CW_EIO, "key file %s: %s", tmp, strerror(errno));
        } else {
            off += (size_t)w;
        }
    }
    if (err == 0 && (fchmod(fd, 0600) != 0 || fsync(fd) != 0)) {
        err = cw_diag_set(diag, diag_len, CW_EIO, "key file %s: %s", tmp, strerror(errno));
    }
    close(fd);
    if (err == 0 && rename(tmp, path) != 0) {
        err = cw_diag_set(diag, diag_len, CW_EIO, "key file %s: %s", path, strerror(errno));
    }
    if (err != 0) {
        unlink(tmp);
    }
    return err;
}

static void new_key_line(char *line, size_t cap)
{
    unsigned char key[CW__KEY_BYTES];
    randombytes_buf(key, sizeof(key));
    sodium_bin2hex(line, cap, key, sizeof(key));
    sodium_memzero(key, sizeof(key));
}

int cw__keyring_load_file(const char *path, int create, cw__keyring_t *ring, char *diag,
                          size_t diag_len)
{
    char buf[KEY_FILE_MAX];
    size_t len = 0;
    memset(ring, 0, sizeof(*ring));
    int err = read_key_file(path, buf, sizeof(buf), &len, diag, diag_len);
    if (err == CW_ENOENT && create) {
        char line[2 * CW__KEY_BYTES + 2];
        new_key_line(line, sizeof(line) - 1);
        strcat(line, "\n");
        // O_EXCL in write_key_file's temporary plus rename: if another process created the
        // file meanwhile, ours replaces it only when it did not exist, so check again after.
        if (access(path, F_OK) != 0) {
            err = write_key_file(path, line, diag, diag_len);
        }
        sodium_memzero(line, sizeof(line));
        if (err == CW_ENOENT || err == 0) {
            err = read_key_file(path, buf, sizeof(buf), &len, diag, diag_len);
        }
    }
    if (err == 0) {
        err = parse_list(buf, "\n", ring, path, diag, diag_len);
    }
    sodium_memzero(buf, sizeof(buf));
    if (err != 0) {
        cw__keyring_wipe(ring);
    }
    return err;
}

int cw_store_key_file_add(const char *key_file, char *diag, size_t diag_len)
{
    if (key_file == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no key file");
    }
    if (sodium_init() < 0) {
        return cw_diag_set(diag, diag_len, CW_ECRYPTO, "libsodium failed to initialise");
    }
    char buf[KEY_FILE_MAX + 80];
    size_t len = 0;
    int err =
        read_key_file(key_file, buf + 2 * CW__KEY_BYTES + 1, KEY_FILE_MAX, &len, diag, diag_len);
    if (err == CW_ENOENT) {
        buf[2 * CW__KEY_BYTES + 1] = '\0';
        err = 0;
    }
    if (err == 0) {
        cw__keyring_t ring = {0};
        if (len > 0) {
            err = parse_list(buf + 2 * CW__KEY_BYTES + 1, "\n", &ring, key_file, diag, diag_len);
        }
        if (err == 0 && ring.n >= CW__MAX_KEYS) {
            err = cw_diag_set(diag, diag_len, CW_ETOOBIG,
                              "key file %s holds %d keys already: finish the rotation and retire "
                              "old keys first",
                              key_file, ring.n);
        }
        cw__keyring_wipe(&ring);
    }
    if (err == 0) {
        // New key first, then the old lines unchanged.
        char line[2 * CW__KEY_BYTES + 1];
        new_key_line(line, sizeof(line));
        memcpy(buf, line, 2 * CW__KEY_BYTES);
        buf[2 * CW__KEY_BYTES] = '\n';
        sodium_memzero(line, sizeof(line));
        err = write_key_file(key_file, buf, diag, diag_len);
    }
    sodium_memzero(buf, sizeof(buf));
    return err;
}

int cw_store_key_file_retire(const char *key_file, char *diag, size_t diag_len)
{
    if (key_file == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "no key file");
    }
    char buf[KEY_FILE_MAX];
    size_t len = 0;
    int err = read_key_file(key_file, buf, sizeof(buf), &len, diag, diag_len);
    if (err == 0) {
        cw__keyring_t ring = {0};
        err = parse_list(buf, "\n", &ring, key_file, diag, diag_len);
        if (err == 0) {
            char line[2 * CW__KEY_BYTES + 2];
            sodium_bin2hex(line, sizeof(line) - 1, ring.key[0], CW__KEY_BYTES);
            strcat(line, "\n");
            err = write_key_file(key_file, line, diag, diag_len);
            sodium_memzero(line, sizeof(line));
        }
        cw__keyring_wipe(&ring);
    }
    sodium_memzero(buf, sizeof(buf));
    return err;
}

// Associated data: "field#id" then the ciphertext header (version and key id).
static size_t make_ad(unsigned char *ad, size_t cap, const char *field, uint64_t id,
                      const unsigned char *header)
{
    int n = snprintf((char *)ad, cap, "%s#%llu", field, (unsigned long long)id);
    if (n < 0 || (size_t)n + 5 > cap) {
        return 0;
    }
    memcpy(ad + n, header, 5);
    return (size_t)n + 5;
}

int cw__seal(const cw__keyring_t *ring, const char *field, uint64_t id, const void *pt, size_t len,
             unsigned char **out, size_t *out_len)
{
    if (ring->n < 1) {
        return CW_ECRYPTO;
    }
    size_t total;
    if (cw_size_add(len, CW__SEAL_OVERHEAD, &total) != 0) {
        return CW_EOVERFLOW;
    }
    unsigned char *c = cw_malloc(total);
    if (c == NULL) {
        return CW_ENOMEM;
    }
    uint32_t kid = ring->id[0];
    c[0] = 1;
    c[1] = (unsigned char)(kid >> 24);
    c[2] = (unsigned char)(kid >> 16);
    c[3] = (unsigned char)(kid >> 8);
    c[4] = (unsigned char)kid;
    randombytes_buf(c + 5, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned char ad[160];
    size_t ad_len = make_ad(ad, sizeof(ad), field, id, c);
    if (ad_len == 0) {
        cw_free(c);
        return CW_EINTERNAL;
    }
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(c + CW__SEAL_HEADER, &clen, pt, len, ad, ad_len,
                                               NULL, c + 5, ring->key[0]);
    *out = c;
    *out_len = CW__SEAL_HEADER + (size_t)clen;
    return 0;
}

int cw__open(const cw__keyring_t *ring, const char *field, uint64_t id, const void *ct,
             size_t ct_len, unsigned char **out, size_t *out_len, char *diag, size_t diag_len)
{
    const unsigned char *c = ct;
    if (ct_len < CW__SEAL_OVERHEAD || c[0] != 1) {
        return cw_diag_set(diag, diag_len, CW_ECORRUPT, "%s of row %llu: not a ciphertext", field,
                           (unsigned long long)id);
    }
    uint32_t kid = (uint32_t)c[1] << 24 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 8 | c[4];
    int k = -1;
    for (int i = 0; i < ring->n && k < 0; i++) {
        if (ring->id[i] == kid) {
            k = i;
        }
    }
    if (k < 0) {
        return cw_diag_set(diag, diag_len, CW_ECRYPTO,
                           "%s of row %llu: sealed with key %08x, which is not loaded", field,
                           (unsigned long long)id, (unsigned)kid);
    }
    size_t plen = ct_len - CW__SEAL_OVERHEAD;
    unsigned char *p = cw_malloc(plen + 1);
    if (p == NULL) {
        return cw_diag_set(diag, diag_len, CW_ENOMEM, "out of memory");
    }
    unsigned char ad[160];
    size_t ad_len = make_ad(ad, sizeof(ad), field, id, c);
    unsigned long long got = 0;
    if (ad_len == 0 || crypto_aead_xchacha20poly1305_ietf_decrypt(
                           p, &got, NULL, c + CW__SEAL_HEADER, ct_len - CW__SEAL_HEADER, ad, ad_len,
                           c + 5, ring->key[k]) != 0) {
        cw_free_wipe(p, plen + 1);
        return cw_diag_set(diag, diag_len, CW_ECRYPTO,
                           "%s of row %llu: authentication failed (tampered, or moved from "
                           "another row)",
                           field, (unsigned long long)id);
    }
    p[got] = 0;
    *out = p;
    *out_len = (size_t)got;
    return 0;
}
