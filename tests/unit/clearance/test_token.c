// SPDX-License-Identifier: Apache-2.0
// Tests of the signed QR tokens: round trips over extreme field values, the documented layout
// checked by an independent decoder here, every single-byte change of a valid text refused,
// payload changes without a new signature and tokens from another key refused as forgeries,
// wrong versions, truncated, overlong and garbage texts refused as malformed. Run with
// --write-corpus DIR to (re)write the fuzz corpus of tests/fuzz/token.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clearway/clearance.h"
#include "clearway/err.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TEXT_LEN = 134, RAW_LEN = 97 };

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The fuzz target derives its key from the same seed (tests/fuzz/token/fuzz_token.c).
static void fuzz_seed(uint8_t seed[32])
{
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)(i * 7 + 1);
    }
}

static void keys(uint8_t fill, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    memset(seed, fill, sizeof(seed));
    assert_int_equal(cw_token_keypair(seed, pk, sk), 0);
}

static uint32_t rng_state = 0x9e3779b9u;

static uint32_t rng(void)
{
    uint32_t x = rng_state; // xorshift32: reproducible everywhere
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

// Decodes an exactly-sized copy, so that a read past len is caught by ASan.
static int decode(const char *text, size_t len, const uint8_t pk[32], cw_token_t *out, char *diag,
                  size_t diag_len)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    int rc = cw_token_decode(copy, len, pk, out, diag, diag_len);
    free(copy);
    return rc;
}

static void assert_zero_token(const cw_token_t *t)
{
    static const cw_token_t zero;
    assert_memory_equal(t, &zero, sizeof(zero));
}

// An independent base64url decoder (no padding, n % 4 != 1).
static size_t unb64(const char *s, size_t n, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(b64url, s[i]);
        assert_non_null(p);
        acc = acc << 6 | (uint32_t)(p - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

static void b64(const uint8_t *raw, size_t n, char *out, size_t cap)
{
    assert_true(cap >= sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING));
    sodium_bin2base64(out, cap, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

// A text with any raw bytes, signed or not.
static void text_of(const uint8_t raw[RAW_LEN], char text[TEXT_LEN + 1])
{
    memcpy(text, "CW1.", 4);
    b64(raw, RAW_LEN, text + 4, TEXT_LEN + 1 - 4);
}

// ---- keys and round trips ----------------------------------------------------------------------

static void test_keypair(void **state)
{
    (void)state;
    uint8_t pk[32];
    uint8_t sk[64];
    uint8_t pk2[32];
    uint8_t sk2[64];
    keys(1, pk, sk);
    keys(1, pk2, sk2);
    assert_memory_equal(pk, pk2, 32);
    assert_memory_equal(sk, sk2, 64);
    uint8_t derived[32];
    crypto_sign_ed25519_sk_to_pk(derived, sk);
    assert_memory_equal(derived, pk, 32);
    keys(2, pk2, sk2);
    assert_memory_not_equal(pk, pk2, 32);
    uint8_t seed[32] = {0};
    assert_int_equal(cw_token_keypair(NULL, pk, sk), CW_EINVAL);
    assert_int_equal(cw_token_keypair(seed, NULL, sk), CW_EINVAL);
    assert_int_equal(cw_token_keypair(seed, pk, NULL), CW_EINVAL);
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t pk[32];
    uint8_t sk[64];
    keys(7, pk, sk);
    const cw_token_t cases[] = {
        {1, 2, 1700000000, 1700003600},
        {0, 0, 0, 0},
        {UINT64_MAX, UINT64_MAX, INT64_MAX, INT64_MAX},
        {UINT64_MAX - 1, 1, INT64_MIN, -1},
        {0x0102030405060708ull, 0x1112131415161718ull, -1234567890123, 9876543210987},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[CW_TOKEN_TEXT_MAX];
        memset(text, 'x', sizeof(text));
        assert_int_equal(cw_token_encode(&cases[i], sk, text, sizeof(text)), 0);
        assert_int_equal(strlen(text), TEXT_LEN);
        assert_memory_equal(text, "CW1.", 4);
        for (size_t k = 4; k < TEXT_LEN; k++) {
            assert_non_null(strchr(b64url, text[k]));
        }
        // The same token gives the same text (Ed25519 is deterministic).
        char again[CW_TOKEN_TEXT_MAX];
        assert_int_equal(cw_token_encode(&cases[i], sk, again, sizeof(again)), 0);
        assert_string_equal(text, again);

        cw_token_t back;
        char diag[128] = "";
        assert_int_equal(decode(text, TEXT_LEN, pk, &back, diag, sizeof(diag)), 0);
        assert_memory_equal(&back, &cases[i], sizeof(back));

        // The layout, read independently: version 1, four little-endian fields, the signature.
        uint8_t raw[RAW_LEN + 3];
        assert_int_equal(unb64(text + 4, TEXT_LEN - 4, raw), RAW_LEN);
        assert_int_equal(raw[0], 1);
        uint64_t f[4] = {cases[i].id, cases[i].traveller, (uint64_t)cases[i].issued_at,
                         (uint64_t)cases[i].expires_at};
        for (int k = 0; k < 4; k++) {
            for (int b = 0; b < 8; b++) {
                assert_int_equal(raw[1 + 8 * k + b], (uint8_t)(f[k] >> (8 * b)));
            }
        }
        assert_int_equal(crypto_sign_verify_detached(raw + 33, raw, 33, pk), 0);
    }
}

static void test_encode_arguments(void **state)
{
    (void)state;
    uint8_t pk[32];
    uint8_t sk[64];
    keys(3, pk, sk);
    cw_token_t t = {5, 6, 7, 8};
    char text[CW_TOKEN_TEXT_MAX];
    // Exactly enough room, and one byte less.
    assert_int_equal(cw_token_encode(&t, sk, text, TEXT_LEN + 1), 0);
    memset(text, 'x', sizeof(text));
    assert_int_equal(cw_token_encode(&t, sk, text, TEXT_LEN), CW_ETOOBIG);
    assert_int_equal(text[0], '\0');
    assert_int_equal(cw_token_encode(&t, sk, text, 1), CW_ETOOBIG);
    assert_int_equal(cw_token_encode(&t, sk, text, 0), CW_ETOOBIG);
    assert_int_equal(cw_token_encode(NULL, sk, text, sizeof(text)), CW_EINVAL);
    assert_int_equal(cw_token_encode(&t, NULL, text, sizeof(text)), CW_EINVAL);
    assert_int_equal(cw_token_encode(&t, sk, NULL, sizeof(text)), CW_EINVAL);

    assert_int_equal(cw_token_encode(&t, sk, text, sizeof(text)), 0);
    cw_token_t out;
    assert_int_equal(cw_token_decode(text, TEXT_LEN, NULL, &out, NULL, 0), CW_EINVAL);
    assert_zero_token(&out);
    assert_int_equal(cw_token_decode(NULL, 3, pk, &out, NULL, 0), CW_EINVAL);
    assert_int_equal(cw_token_decode(text, TEXT_LEN, pk, NULL, NULL, 0), CW_EINVAL);
    assert_int_equal(cw_token_decode(NULL, 0, pk, &out, NULL, 0), CW_EFORMAT);
}

// ---- refusals ----------------------------------------------------------------------------------

// Every position, every other byte value: refused, as malformed or as a forgery, never accepted.
// (This is what showed that libsodium 1.0.18's base64 decoder reads some bytes >= 0x80 as 'A'.)
static void test_every_byte_changed(void **state)
{
    (void)state;
    uint8_t pk[32];
    uint8_t sk[64];
    keys(9, pk, sk);
    cw_token_t t = {42, 4242, 1700000000, 1700086400};
    char text[CW_TOKEN_TEXT_MAX];
    assert_int_equal(cw_token_encode(&t, sk, text, sizeof(text)), 0);
    int forgeries = 0;
    int malformed = 0;
    for (size_t i = 0; i < TEXT_LEN; i++) {
        for (int b = 0; b < 256; b++) {
            if (b == (unsigned char)text[i]) {
                continue;
            }
            char changed[TEXT_LEN];
            memcpy(changed, text, TEXT_LEN);
            changed[i] = (char)b;
            cw_token_t out;
            char diag[128] = "";
            int rc = decode(changed, TEXT_LEN, pk, &out, diag, sizeof(diag));
            if (rc != CW_ECRYPTO && rc != CW_EFORMAT) {
                fail_msg("position %zu byte 0x%02x: rc %d", i, b, rc);
            }
            assert_zero_token(&out);
            assert_true(strlen(diag) > 0);
            forgeries += rc == CW_ECRYPTO;
            malformed += rc == CW_EFORMAT;
        }
    }
    // Changes to base64 characters that still decode reach the signature check.
    assert_true(forgeries > 5000);
    assert_true(malformed > 20000);
}

static void test_forgeries(void **state)
{
    (void)state;
    uint8_t pk[32];
    uint8_t sk[64];
    uint8_t pk2[32];
    uint8_t sk2[64];
    keys(4, pk, sk);
    keys(5, pk2, sk2);
    cw_token_t t = {1, 99, 1000, 2000};
    char text[CW_TOKEN_TEXT_MAX];
    assert_int_equal(cw_token_encode(&t, sk2, text, sizeof(text)), 0);
    cw_token_t out;
    char diag[128] = "";
    // Signed with another key.
    assert_int_equal(decode(text, TEXT_LEN, pk, &out, diag, sizeof(diag)), CW_ECRYPTO);
    assert_non_null(strstr(diag, "signature"));
    assert_zero_token(&out);
    assert_int_equal(decode(text, TEXT_LEN, pk2, &out, diag, sizeof(diag)), 0);

    // Every bit of the payload or the signature flipped, re-encoded as valid base64.
    uint8_t raw[RAW_LEN + 3];
    assert_int_equal(unb64(text + 4, TEXT_LEN - 4, raw), RAW_LEN);
    for (int bit = 0; bit < RAW_LEN * 8; bit++) {
        uint8_t changed[RAW_LEN];
        memcpy(changed, raw, RAW_LEN);
        changed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        char forged[TEXT_LEN + 1];
        text_of(changed, forged);
        int rc = decode(forged, TEXT_LEN, pk2, &out, diag, sizeof(diag));
        // The version byte is checked first: flipping it is a malformed token.
        assert_int_equal(rc, bit < 8 ? CW_EFORMAT : CW_ECRYPTO);
        assert_zero_token(&out);
    }

    // The traveller changed and signed with the wrong key; the right key's signature moved onto
    // another payload.
    uint8_t swapped[RAW_LEN];
    memcpy(swapped, raw, RAW_LEN);
    swapped[9] ^= 1;
    char forged[TEXT_LEN + 1];
    text_of(swapped, forged);
    assert_int_equal(decode(forged, TEXT_LEN, pk2, &out, NULL, 0), CW_ECRYPTO);
    // An all-zero signature and public key (a small-order point): refused.
    memset(swapped + 33, 0, 64);
    text_of(swapped, forged);
    uint8_t zero_pk[32] = {0};
    assert_int_equal(decode(forged, TEXT_LEN, zero_pk, &out, NULL, 0), CW_ECRYPTO);
}

static void test_versions(void **state)
{
    (void)state;
    uint8_t pk[32];
    uint8_t sk[64];
    keys(6, pk, sk);
    // Properly signed payloads of other versions are not this version's tokens.
    const uint8_t versions[3] = {0, 2, 255};
    for (int v = 0; v < 3; v++) {
        uint8_t raw[RAW_LEN] = {0};
        raw[0] = versions[v];
        raw[1] = 7;
        crypto_sign_detached(raw + 33, NULL, raw, 33, sk);
        char text[TEXT_LEN + 1];
        text_of(raw, text);
        cw_token_t out;
        char diag[128] = "";
        assert_int_equal(decode(text, TEXT_LEN, pk, &out, diag, sizeof(diag)), CW_EFORMAT);
        assert_non_null(strstr(diag, "version"));
        assert_zero_token(&out);
    }
}

static void test_truncated_overlong_garbage(void **state)
{
    (void)state;
    uint8_t pk[32];
    uint8_t sk[64];
    keys(8, pk, sk);
    cw_token_t t = {3, 4, 5, 6};
    char text[CW_TOKEN_TEXT_MAX + 8];
    assert_int_equal(cw_token_encode(&t, sk, text, CW_TOKEN_TEXT_MAX), 0);
    cw_token_t out;
    char diag[128];
    // Every prefix, and the whole text read through a shorter len.
    for (size_t len = 0; len < TEXT_LEN; len++) {
        assert_int_equal(decode(text, len, pk, &out, diag, sizeof(diag)), CW_EFORMAT);
        assert_int_equal(cw_token_decode(text, len, pk, &out, NULL, 0), CW_EFORMAT);
        assert_zero_token(&out);
    }
    // Anything after the token: a base64 character, a newline, a NUL, padding.
    const char *tails[] = {"A", "\n", "\r\n", "=", "==", " "};
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        char longer[CW_TOKEN_TEXT_MAX + 8];
        memcpy(longer, text, TEXT_LEN);
        memcpy(longer + TEXT_LEN, tails[i], strlen(tails[i]));
        assert_int_equal(decode(longer, TEXT_LEN + strlen(tails[i]), pk, &out, diag, sizeof(diag)),
                         CW_EFORMAT);
    }
    char with_nul[TEXT_LEN + 1];
    memcpy(with_nul, text, TEXT_LEN + 1);
    assert_int_equal(decode(with_nul, TEXT_LEN + 1, pk, &out, NULL, 0), CW_EFORMAT);
    // Other prefixes; standard base64 instead of base64url; a character dropped inside and one
    // added at the end (the same length).
    const char *prefixes[] = {"cw1.", "CW2.", "CW1:", "CW1_"};
    for (int i = 0; i < 4; i++) {
        char other[TEXT_LEN];
        memcpy(other, text, TEXT_LEN);
        memcpy(other, prefixes[i], 4);
        assert_int_equal(decode(other, TEXT_LEN, pk, &out, diag, sizeof(diag)), CW_EFORMAT);
        assert_non_null(strstr(diag, "CW1."));
    }
    char std[TEXT_LEN];
    memcpy(std, text, TEXT_LEN);
    std[60] = '+';
    std[61] = '/';
    assert_int_equal(decode(std, TEXT_LEN, pk, &out, NULL, 0), CW_EFORMAT);
    char shifted[TEXT_LEN];
    memcpy(shifted, text, 50);
    memcpy(shifted + 50, text + 51, TEXT_LEN - 51);
    shifted[TEXT_LEN - 1] = 'A';
    int rc = decode(shifted, TEXT_LEN, pk, &out, NULL, 0);
    assert_true(rc == CW_EFORMAT || rc == CW_ECRYPTO);
    // Random garbage, with and without the prefix.
    for (int i = 0; i < 5000; i++) {
        char g[200];
        size_t n = rng() % sizeof(g);
        for (size_t k = 0; k < n; k++) {
            g[k] = i % 2 ? b64url[rng() % 64] : (char)(rng() & 0xff);
        }
        if (i % 4 < 2 && n >= 4) {
            memcpy(g, "CW1.", 4);
        }
        if (i % 8 == 0) {
            n = TEXT_LEN;
            memcpy(g, "CW1.", 4);
        }
        rc = decode(g, n, pk, &out, NULL, 0);
        assert_true(rc == CW_EFORMAT || rc == CW_ECRYPTO);
        assert_zero_token(&out);
    }
}

// ---- corpus ------------------------------------------------------------------------------------

static int write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    return 0;
}

static int write_corpus(const char *dir)
{
    uint8_t seed[32];
    uint8_t pk[32];
    uint8_t sk[64];
    fuzz_seed(seed);
    if (cw_token_keypair(seed, pk, sk) != 0) {
        return 1;
    }
    cw_token_t t = {17, 123456, 1700000000, 1700086400};
    char text[CW_TOKEN_TEXT_MAX];
    if (cw_token_encode(&t, sk, text, sizeof(text)) != 0) {
        return 1;
    }
    int bad = write_file(dir, "valid.txt", text, TEXT_LEN);
    char changed[TEXT_LEN];
    memcpy(changed, text, TEXT_LEN);
    changed[20] = changed[20] == 'A' ? 'B' : 'A';
    bad |= write_file(dir, "altered.txt", changed, TEXT_LEN);
    bad |= write_file(dir, "truncated.txt", text, TEXT_LEN - 1);
    uint8_t raw[RAW_LEN] = {2};
    crypto_sign_detached(raw + 33, NULL, raw, 33, sk);
    char v2[TEXT_LEN + 1];
    text_of(raw, v2);
    bad |= write_file(dir, "version2.txt", v2, TEXT_LEN);
    uint8_t seed2[32] = {0};
    uint8_t pk2[32];
    uint8_t sk2[64];
    if (cw_token_keypair(seed2, pk2, sk2) != 0 || cw_token_encode(&t, sk2, text, sizeof(text))) {
        return 1;
    }
    bad |= write_file(dir, "other_key.txt", text, TEXT_LEN);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0) {
        return write_corpus(argv[2]);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keypair),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_arguments),
        cmocka_unit_test(test_every_byte_changed),
        cmocka_unit_test(test_forgeries),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_truncated_overlong_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
