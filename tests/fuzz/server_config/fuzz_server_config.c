// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the server's configuration parser (cw_server_config_parse over the defaults)
// and the listen-address check: whatever the bytes, no crash, no leak, and a refusal always
// names what was wrong; an accepted configuration keeps its values within their ranges.
#include "clearway/err.h"
#include "clearway/server.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_server_config_t cfg;
    if (cw_server_config_default(&cfg) != 0) {
        return 0;
    }
    char diag[256] = "";
    int err = cw_server_config_parse(&cfg, (const char *)data, size, diag, sizeof(diag));
    if (err != 0 && diag[0] == '\0' && err != CW_ENOMEM) {
        abort();
    }
    if (err == 0) {
        if (cfg.workers < 1 || cfg.workers > 64 || cfg.http_threads < 1 || cfg.http_threads > 64 ||
            cfg.max_body_bytes < 1024 || cfg.connection_timeout_s < 1 || cfg.listen == NULL ||
            cfg.db == NULL) {
            abort();
        }
        for (size_t i = 0; i < cfg.n_ports; i++) {
            if (cfg.ports[i].code[0] == '\0' || strchr(cfg.ports[i].code, '.') != NULL) {
                abort();
            }
        }
        (void)cw_server_config_check(&cfg, diag, sizeof(diag));
    }
    cw_server_config_free(&cfg);
    return 0;
}
