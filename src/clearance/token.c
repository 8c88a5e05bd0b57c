// SPDX-License-Identifier: Apache-2.0
// Signed QR tokens for the contactless e-channel. A token is "CW1." followed by the base64url
// (no padding) of a 33-byte payload (version 1, token id, traveller id, issue and expiry times,
// little-endian) and its 64-byte Ed25519 signature (libsodium): 134 characters, well inside a QR
// code. Decoding is strict, so a token has exactly one text: the length is fixed, the base64url
// must be canonical (decoded here: libsodium 1.0.18's sodium_base642bin takes some bytes >= 0x80
// for base64 characters, its constant-time comparisons treating them as negative), and
// libsodium's verification refuses non-canonical signatures; so any change to a valid text is
// refused. Expiry, revocation
// and anti-passback are the caller's, since they need the clock and the store.
#include "clearway/clearance.h"
#include "clearway/err.h"

#include <sodium.h>
#include <string.h>

#define PREFIX "CW1."

enum {
    PREFIX_LEN = sizeof(PREFIX) - 1,
    VERSION = 1,
    PAYLOAD_BYTES = 1 + 8 + 8 + 8 + 8,
    RAW_BYTES = PAYLOAD_BYTES + crypto_sign_BYTES,
    B64_LEN = (RAW_BYTES * 4 + 2) / 3, // no padding
    TEXT_LEN = PREFIX_LEN + B64_LEN,
};

_Static_assert((int)TEXT_LEN < (int)CW_TOKEN_TEXT_MAX, "a token's text must fit CW_TOKEN_TEXT_MAX");
_Static_assert(crypto_sign_PUBLICKEYBYTES == 32 && crypto_sign_SECRETKEYBYTES == 64 &&
                   crypto_sign_SEEDBYTES == 32,
               "the API's key sizes are Ed25519's");

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    return c == '_' ? 63 : -1;
}

// Decodes the B64_LEN characters of s into RAW_BYTES bytes; -1 unless every character is
// base64url and the unused low bits of the last one are zero (the canonical form).
static int b64url_decode(const char *s, uint8_t out[RAW_BYTES])
{
    uint32_t acc = 0; // at most 12 pending bits
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < B64_LEN; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0) {
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o == RAW_BYTES && acc == 0 ? 0 : -1;
}

// Two's complement without relying on the implementation-defined unsigned-to-signed conversion.
static int64_t to_i64(uint64_t v)
{
    return v <= (uint64_t)INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
}

int cw_token_keypair(const uint8_t seed[32], uint8_t pk[32], uint8_t sk[64])
{
    if (seed == NULL || pk == NULL || sk == NULL) {
        return CW_EINVAL;
    }
    if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, seed) != 0) {
        return CW_ECRYPTO;
    }
    return 0;
}

int cw_token_encode(const cw_token_t *t, const uint8_t sk[64], char *out, size_t cap)
{
    if (t == NULL || sk == NULL || out == NULL) {
        return CW_EINVAL;
    }
    if (cap < TEXT_LEN + 1) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return CW_ETOOBIG;
    }
    if (sodium_init() < 0) {
        out[0] = '\0';
        return CW_ECRYPTO;
    }
    uint8_t raw[RAW_BYTES];
    raw[0] = VERSION;
    put_u64(raw + 1, t->id);
    put_u64(raw + 9, t->traveller);
    put_u64(raw + 17, (uint64_t)t->issued_at);
    put_u64(raw + 25, (uint64_t)t->expires_at);
    int rc = 0;
    if (crypto_sign_detached(raw + PAYLOAD_BYTES, NULL, raw, PAYLOAD_BYTES, sk) != 0) {
        out[0] = '\0';
        rc = CW_ECRYPTO;
    } else {
        memcpy(out, PREFIX, PREFIX_LEN);
        // cap - PREFIX_LEN >= B64_LEN + 1, what libsodium needs (less would abort the process).
        sodium_bin2base64(out + PREFIX_LEN, cap - PREFIX_LEN, raw, RAW_BYTES,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    }
    sodium_memzero(raw, sizeof(raw));
    return rc;
}

int cw_token_decode(const char *text, size_t len, const uint8_t pk[32], cw_token_t *out, char *diag,
                    size_t diag_len)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if ((text == NULL && len > 0) || pk == NULL || out == NULL) {
        return cw_diag_set(diag, diag_len, CW_EINVAL, "token: invalid arguments");
    }
    if (len < PREFIX_LEN || memcmp(text, PREFIX, PREFIX_LEN) != 0) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "token: does not start with \"" PREFIX "\"");
    }
    if (len != TEXT_LEN) {
        return cw_diag_set(diag, diag_len, CW_EFORMAT, "token: %zu characters, expected %d", len,
                           (int)TEXT_LEN);
    }
    if (sodium_init() < 0) {
        return cw_diag_set(diag, diag_len, CW_ECRYPTO, "token: libsodium failed to initialise");
    }
    uint8_t raw[RAW_BYTES];
    int rc = 0;
    if (b64url_decode(text + PREFIX_LEN, raw) != 0) {
        rc = cw_diag_set(diag, diag_len, CW_EFORMAT, "token: not canonical base64url");
    } else if (raw[0] != VERSION) {
        rc = cw_diag_set(diag, diag_len, CW_EFORMAT, "token: version %u, expected %d",
                         (unsigned)raw[0], VERSION);
    } else if (crypto_sign_verify_detached(raw + PAYLOAD_BYTES, raw, PAYLOAD_BYTES, pk) != 0) {
        rc = cw_diag_set(diag, diag_len, CW_ECRYPTO, "token: the signature does not verify");
    } else {
        out->id = get_u64(raw + 1);
        out->traveller = get_u64(raw + 9);
        out->issued_at = to_i64(get_u64(raw + 17));
        out->expires_at = to_i64(get_u64(raw + 25));
    }
    sodium_memzero(raw, sizeof(raw));
    return rc;
}
