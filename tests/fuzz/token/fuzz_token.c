// SPDX-License-Identifier: Apache-2.0
// Fuzz target for QR token decoding: whatever the bytes, cw_token_decode returns CW_EFORMAT or
// CW_ECRYPTO with a zeroed token, or 0; and a text it accepts is exactly the text cw_token_encode
// writes for the token it read (a token has one text, so no altered text can pass). The key is
// derived from a fixed seed, the same one tests/unit/clearance/test_token.c --write-corpus uses.
#include "clearway/clearance.h"
#include "clearway/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pk[32];
    static uint8_t sk[64];
    static int ready;
    if (!ready) {
        uint8_t seed[32];
        for (int i = 0; i < 32; i++) {
            seed[i] = (uint8_t)(i * 7 + 1);
        }
        if (cw_token_keypair(seed, pk, sk) != 0) {
            abort();
        }
        ready = 1;
    }
    cw_token_t t;
    char diag[128];
    int rc = cw_token_decode((const char *)data, size, pk, &t, diag, sizeof(diag));
    if (rc != 0) {
        static const cw_token_t zero;
        if ((rc != CW_EFORMAT && rc != CW_ECRYPTO) || memcmp(&t, &zero, sizeof(t)) != 0) {
            abort();
        }
        return 0;
    }
    char text[CW_TOKEN_TEXT_MAX];
    if (cw_token_encode(&t, sk, text, sizeof(text)) != 0 || strlen(text) != size ||
        memcmp(text, data, size) != 0) {
        abort();
    }
    return 0;
}
