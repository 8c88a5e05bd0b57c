// SPDX-License-Identifier: Apache-2.0
// The `clearway` program's entry point: global options, the subcommand table, and help. Each
// subcommand lives in its own cmd_*.c file and is listed once in `commands` below.
#include "cli.h"

#include "clearway/clearway.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run_help(int argc, char **argv);
static int run_version(int argc, char **argv);

static const cw_cli_command_t cmd_help = {
    "help",
    "Show help for clearway or one of its subcommands",
    "Usage: clearway help [SUBCOMMAND]\n"
    "\n"
    "Without an argument, lists the subcommands. With one, shows that subcommand's help\n"
    "(the same as `clearway SUBCOMMAND --help`).\n",
    run_help,
    NULL,
};

static const cw_cli_command_t cmd_version = {
    "version",
    "Print the version of this build",
    "Usage: clearway version\n"
    "\n"
    "Prints `clearway VERSION` (the same as `clearway --version`).\n",
    run_version,
    NULL,
};

static const cw_cli_command_t *const commands[] = {
    &cmd_help,      &cmd_version,  &cw_cmd_serve,   &cw_cmd_info,
    &cw_cmd_face,   &cw_cmd_eval,  &cw_cmd_gallery, &cw_cmd_enrol,
    &cw_cmd_audit,  &cw_cmd_purge, &cw_cmd_keys,    &cw_cmd_apikey,
    &cw_cmd_finger, &cw_cmd_sim,   &cw_cmd_report,  &cw_cmd_passengers,
};

enum { N_COMMANDS = sizeof(commands) / sizeof(commands[0]) };

static const cw_cli_command_t *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i]->name, name) == 0) {
            return commands[i];
        }
    }
    return NULL;
}

static void print_overview(FILE *out)
{
    fprintf(out, "Usage: clearway [--help | --version] SUBCOMMAND [ARGS]\n"
                 "\n"
                 "Clearway: biometric border clearance (face and fingerprint e-channels).\n"
                 "\n"
                 "Subcommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    }
    fprintf(out, "\n"
                 "Run `clearway help SUBCOMMAND` for a subcommand's options.\n"
                 "Environment: CLEARWAY_LOG=LEVEL[,json] (trace|debug|info|warn|error|off),\n"
                 "CW_FORCE_SCALAR=1 (use the scalar reference kernels), CLEARWAY_DEPS=DIR\n"
                 "(where the set-up installed model packages).\n");
}

int cw_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            return 0;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return 1;
        }
    }
    return 0;
}

void cw_cli_print_help(const cw_cli_command_t *cmd)
{
    printf("clearway %s: %s\n\n%s", cmd->name, cmd->summary, cmd->help);
}

int cw_cli_usage_error(const char *name, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "clearway %s: ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun `clearway help %s` for usage.\n", name);
    return CW_EXIT_USAGE;
}

int cw_cli_long_arg(const char *cmd, const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long x = v != NULL ? strtol(v, &end, 10) : 0;
    if (v == NULL || end == v || *end != '\0' || errno == ERANGE || x < lo || x > hi) {
        return cw_cli_usage_error(cmd, "%s must be %ld..%ld", opt, lo, hi);
    }
    *out = x;
    return 0;
}

int cw_cli_real_arg(const char *cmd, const char *opt, const char *v, double lo, double hi,
                    int open_lo, double *out)
{
    char *end = NULL;
    errno = 0;
    double x = v != NULL ? strtod(v, &end) : 0;
    if (v == NULL || end == v || *end != '\0' || errno == ERANGE || !isfinite(x) || x > hi ||
        (open_lo ? x <= lo : x < lo)) {
        return cw_cli_usage_error(cmd, "%s must be a number in %s%g, %g]", opt, open_lo ? "(" : "[",
                                  lo, hi);
    }
    *out = x;
    return 0;
}

const char *cw_cli_deps_dir(void)
{
    const char *d = getenv("CLEARWAY_DEPS");
    return d != NULL && d[0] != '\0' ? d : CW_DEFAULT_DEPS_DIR;
}

static int run_help(int argc, char **argv)
{
    if (argc == 1) {
        print_overview(stdout);
        return CW_EXIT_OK;
    }
    if (argc > 2) {
        return cw_cli_usage_error("help", "expected at most one subcommand name");
    }
    const cw_cli_command_t *cmd = find_command(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "clearway help: unknown subcommand '%s'\n", argv[1]);
        print_overview(stderr);
        return CW_EXIT_USAGE;
    }
    cw_cli_print_help(cmd);
    return CW_EXIT_OK;
}

static int run_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        return cw_cli_usage_error("version", "takes no arguments");
    }
    printf("clearway %s\n", CW_VERSION_STRING);
    return CW_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (cw_log_init_from_env() != 0) {
        fprintf(stderr, "clearway: ignoring malformed CLEARWAY_LOG='%s' (want LEVEL[,json])\n",
                getenv("CLEARWAY_LOG"));
    }
    if (argc < 2) {
        print_overview(stderr);
        return CW_EXIT_USAGE;
    }
    const char *first = argv[1];
    if (strcmp(first, "-h") == 0 || strcmp(first, "--help") == 0) {
        print_overview(stdout);
        return CW_EXIT_OK;
    }
    if (strcmp(first, "-V") == 0 || strcmp(first, "--version") == 0) {
        return run_version(1, argv + 1);
    }
    if (first[0] == '-') {
        fprintf(stderr, "clearway: unknown option '%s'\n\n", first);
        print_overview(stderr);
        return CW_EXIT_USAGE;
    }
    const cw_cli_command_t *cmd = find_command(first);
    if (cmd == NULL) {
        fprintf(stderr, "clearway: unknown subcommand '%s'. Run `clearway --help` for the list.\n",
                first);
        return CW_EXIT_USAGE;
    }
    if (cmd != &cmd_help && cw_cli_wants_help(argc - 1, argv + 1)) {
        // `clearway sim population --help`: the subcommand's own help when it has one.
        for (size_t i = 0; cmd->subs != NULL && argc > 2 && cmd->subs[i] != NULL; i++) {
            if (strcmp(argv[2], cmd->subs[i]->name) == 0) {
                printf("clearway %s %s: %s\n\n%s", cmd->name, cmd->subs[i]->name,
                       cmd->subs[i]->summary, cmd->subs[i]->help);
                return CW_EXIT_OK;
            }
        }
        cw_cli_print_help(cmd);
        return CW_EXIT_OK;
    }
    return cmd->run(argc - 1, argv + 1);
}
