// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the gallery snapshot loader: whatever the bytes, no crash and no read outside
// the input; an error the API documents, or a gallery whose every row is searchable and which
// can be searched. The checksum makes most mutations fail early, so each input is also tried
// with its hash recomputed, which lets mutations reach the header and row checks.
#include "clearway/err.h"
#include "clearway/gallery.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int cw__gallery_load_mem(const uint8_t *p, size_t len, cw_gallery_t **out, char *diag,
                         size_t diag_len);

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

static void try_load(const uint8_t *p, size_t n)
{
    cw_gallery_t *g = NULL;
    char diag[256];
    int rc = cw__gallery_load_mem(p, n, &g, diag, sizeof(diag));
    check(rc == 0 || rc == CW_EFORMAT || rc == CW_ECORRUPT || rc == CW_EUNSUPPORTED ||
          rc == CW_ENOMEM || rc == CW_EOVERFLOW || rc == CW_ECRYPTO);
    check((rc == 0) == (g != NULL));
    if (g != NULL) {
        cw_gallery_config_t cfg;
        cw_gallery_config(g, &cfg);
        float q[CW_GALLERY_MAX_DIM];
        for (uint32_t i = 0; i < cfg.dim; i++) {
            q[i] = (float)(i % 7) - 3.0f;
        }
        cw_gallery_hit_t hits[4];
        int nh = -1;
        check(cw_gallery_search(g, q, 4, NULL, hits, &nh) == 0);
        check(nh >= 0 && (size_t)nh <= cw_gallery_count(g));
        cw_gallery_destroy(g);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sodium_init() < 0) {
        return 0;
    }
    try_load(data, size);
    // Again with a valid checksum, so mutations reach the header and row checks.
    if (size >= 128 && size <= (1u << 20)) {
        uint8_t *copy = malloc(size);
        if (copy != NULL) {
            memcpy(copy, data, size);
            crypto_generichash(copy + 48, 32, copy + 128, size - 128, NULL, 0);
            try_load(copy, size);
            free(copy);
        }
    }
    return 0;
}
