// SPDX-License-Identifier: Apache-2.0
// `clearway info`: what this build is and what it found on this machine (CPU features and the
// kernel path dispatch will take, and the model packages the set-up installed and verified).
// The first thing to run on a new gate or server, and what a bug report should include.
#include "cli.h"

#include "clearway/clearway.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static int run_info(int argc, char **argv);

const cw_cli_command_t cw_cmd_info = {
    "info",
    "Show the build, the CPU features in use and the installed model packages",
    "Usage: clearway info [--json]\n"
    "\n"
    "Prints the version and build type, the CPU and its SIMD features, which kernel path\n"
    "dispatch will use (none when CW_FORCE_SCALAR=1), and the model packages the set-up\n"
    "installed and verified under $CLEARWAY_DEPS/npm (default: the checkout's .deps).\n"
    "\n"
    "Options:\n"
    "  --json    one JSON object instead of text\n"
    "\n"
    "Exit status: 0, or 1 when the model packages are missing (run `make setup`).\n",
    run_info,
    NULL,
};

enum { MAX_PKGS = 32 };

typedef struct pkg {
    char name[128];
    char version[64];
} pkg;

// Packages verified by tools/setup/setup.sh: each folder under npm/ holds a stamp file
// `.clearway-verified` with "NAME VERSION" written only after every checksum matched.
static int list_verified(const char *deps, pkg *out, int max)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/npm", deps);
    DIR *d = opendir(path);
    if (d == NULL) {
        return 0;
    }
    int n = 0;
    struct dirent *e;
    while (n < max && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        int len = snprintf(path, sizeof(path), "%s/npm/%s/.clearway-verified", deps, e->d_name);
        if (len < 0 || (size_t)len >= sizeof(path)) {
            continue;
        }
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        if (fscanf(f, "%127s %63s", out[n].name, out[n].version) == 2) {
            n++;
        }
        fclose(f);
    }
    closedir(d);
    // Stable order for people and tests.
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && strcmp(out[j - 1].name, out[j].name) > 0; j--) {
            pkg t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    }
    return n;
}

// A JSON string literal: quotes, backslashes and control characters escaped.
static void put_json_string(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

static int run_info(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            return cw_cli_usage_error("info", "unknown argument '%s'", argv[i]);
        }
    }
    char hw[256];
    char used[256];
    cw_cpu_describe(cw_cpu_features_hw(), hw, sizeof(hw));
    cw_cpu_describe(cw_cpu_features(), used, sizeof(used));
    const char *deps = cw_cli_deps_dir();
    pkg pkgs[MAX_PKGS];
    int npkg = list_verified(deps, pkgs, MAX_PKGS);

    if (json) {
        printf("{\"version\":");
        put_json_string(CW_VERSION_STRING);
        printf(",\"build_type\":");
        put_json_string(CW_BUILD_TYPE);
        printf(",\"cpu\":");
        put_json_string(cw_cpu_model_name());
        printf(",\"cpus\":%d,\"features_hw\":\"%s\",\"features_used\":\"%s\","
               "\"forced_scalar\":%s,\"deps_dir\":",
               cw_cpu_count(), hw, used, cw_cpu_forced_scalar() ? "true" : "false");
        put_json_string(deps);
        printf(",\"packages\":[");
        for (int i = 0; i < npkg; i++) {
            printf("%s{\"name\":", i ? "," : "");
            put_json_string(pkgs[i].name);
            printf(",\"version\":");
            put_json_string(pkgs[i].version);
            printf("}");
        }
        printf("]}\n");
    } else {
        printf("clearway %s (%s build)\n", CW_VERSION_STRING, CW_BUILD_TYPE);
        printf("cpu:       %s, %d logical CPUs\n", cw_cpu_model_name(), cw_cpu_count());
        printf("hardware:  %s\n", hw);
        printf("dispatch:  %s%s\n", used,
               cw_cpu_forced_scalar() ? " (CW_FORCE_SCALAR set: scalar reference kernels)" : "");
        printf("packages:  %s/npm\n", deps);
        for (int i = 0; i < npkg; i++) {
            printf("           %s %s (verified)\n", pkgs[i].name, pkgs[i].version);
        }
        if (npkg == 0) {
            printf("           none installed: run `make setup`\n");
        }
    }
    return npkg > 0 ? CW_EXIT_OK : CW_EXIT_FAIL;
}
