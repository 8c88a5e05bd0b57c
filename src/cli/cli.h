/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared declarations of the `clearway` program: the subcommand table entry and the helpers
 * subcommands use for their --help text and exit codes.
 */
#ifndef CLEARWAY_CLI_H
#define CLEARWAY_CLI_H

/* Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong. */
enum { CW_EXIT_OK = 0, CW_EXIT_FAIL = 1, CW_EXIT_USAGE = 2 };

typedef struct cw_cli_command {
    const char *name;
    const char *summary; /* one line for `clearway --help` */
    const char *help;    /* full text for `clearway help NAME` and `clearway NAME --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    /* Subcommands with help of their own (`clearway sim population --help`), NULL-terminated;
     * NULL when the command has none (or documents them in its own help). */
    const struct cw_cli_command *const *subs;
} cw_cli_command_t;

/* Is argv[i] for some i >= 1 "-h" or "--help"? */
int cw_cli_wants_help(int argc, char **argv);

/* Print a command's full help to stdout. */
void cw_cli_print_help(const cw_cli_command_t *cmd);

/* Print "clearway NAME: message" and a pointer to --help on stderr; returns CW_EXIT_USAGE. */
int cw_cli_usage_error(const char *name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/*
 * Option values. cw_cli_long_arg: v as a whole number in [lo, hi]; cw_cli_real_arg: v as a finite
 * number in [lo, hi], or (lo, hi] when open_lo. On a bad value they print "clearway CMD: OPT must
 * be ..." (cw_cli_usage_error) and return CW_EXIT_USAGE; 0 otherwise.
 */
int cw_cli_long_arg(const char *cmd, const char *opt, const char *v, long lo, long hi, long *out);
int cw_cli_real_arg(const char *cmd, const char *opt, const char *v, double lo, double hi,
                    int open_lo, double *out);

/* The directory the set-up installs registry packages into (CLEARWAY_DEPS or the default). */
const char *cw_cli_deps_dir(void);

/* Subcommands. */
extern const cw_cli_command_t cw_cmd_info;
extern const cw_cli_command_t cw_cmd_face;
extern const cw_cli_command_t cw_cmd_eval;
extern const cw_cli_command_t cw_cmd_gallery;
extern const cw_cli_command_t cw_cmd_enrol;
extern const cw_cli_command_t cw_cmd_audit;
extern const cw_cli_command_t cw_cmd_purge;
extern const cw_cli_command_t cw_cmd_keys;
extern const cw_cli_command_t cw_cmd_finger;
extern const cw_cli_command_t cw_cmd_apikey;
extern const cw_cli_command_t cw_cmd_serve;
extern const cw_cli_command_t cw_cmd_sim;
extern const cw_cli_command_t cw_cmd_report;
extern const cw_cli_command_t cw_cmd_passengers;

/* `clearway eval finger ...` (argv[0] is "eval", argv[1] "finger"); eval_finger.c. */
int cw_cli_eval_finger(int argc, char **argv);
/* `clearway eval scores FILE...`; eval_scores.c. */
int cw_cli_eval_scores(int argc, char **argv);
/* `clearway eval lookalike ...`; eval_lookalike.c. */
int cw_cli_eval_lookalike(int argc, char **argv);
/* `clearway sim population ...` (argv[0] is "sim", argv[1] "population"); sim_population.c. */
int cw_cli_sim_population(int argc, char **argv);
/* `clearway sim direct ...` (argv[0] is "sim", argv[1] "direct"); sim_direct.c. */
int cw_cli_sim_direct(int argc, char **argv);
/* Its full usage text (`clearway sim direct --help`). */
extern const char cw_cli_sim_direct_usage[];

#endif
