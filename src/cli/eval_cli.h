/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers the eval subcommands share to report cw_eval figures the same way (text lines with
 * 95% intervals, JSON objects) and to draw their plots (SVG, and PNG on request).
 */
#ifndef CLEARWAY_EVAL_CLI_H
#define CLEARWAY_EVAL_CLI_H

#include "clearway/eval.h"

#include <jansson.h>

/* The FMR targets every eval command reports (1e-2, 1e-3, 1e-4) and the FPIR ones. */
extern const double cw_cli_fmr_targets[3];
extern const double cw_cli_fpir_targets[2];

/* Print the verification / identification lines ("EER 2.31% [2.05, 2.60] ...") to stdout. */
void cw_cli_eval_print_verify(const cw_eval_verify_t *v);
void cw_cli_eval_print_identify(const cw_eval_identify_t *id);

/* The same figures as new JSON objects (caller owns the reference). */
json_t *cw_cli_eval_verify_json(const cw_eval_verify_t *v);
json_t *cw_cli_eval_identify_json(const cw_eval_identify_t *id);

/* The options every eval subcommand (face, finger, scores) takes for its figures and plots. */
typedef struct cw_cli_eval_common {
    const char *det, *hist; /* --det OUT.svg, --hist OUT.svg */
    int png, log_y, json;   /* --png, --log, --json */
    int replicates;         /* --replicates N, 0..100000 (200) */
    int threads;            /* --threads N, 1..256 (0: one per CPU) */
} cw_cli_eval_common_t;

/* The defaults above. */
void cw_cli_eval_common_init(cw_cli_eval_common_t *c);

/*
 * cw_cli_eval_common_option: if argv[*i] is one of the common options, take it (a value-taking
 * one also takes argv[*i + 1] and advances *i) and return 1; return 0 if it is not one of them,
 * and -1 after printing why (cw_cli_usage_error) when its value is missing or bad.
 */
int cw_cli_eval_common_option(int argc, char **argv, int *i, cw_cli_eval_common_t *c);

/*
 * Write the DET of sets (when det is not NULL) and the histogram of sets[0] (when hist is not
 * NULL), and convert each to PNG next to it (OUT.svg -> OUT.png) when png is set; a missing
 * rsvg-convert is a note on stderr, not a failure. Returns 0, or -1 after printing why.
 */
int cw_cli_eval_plots(const char *det, const char *hist, int png, int log_y,
                      const cw_eval_scores_t *const *sets, int n, const char *title);

#endif
