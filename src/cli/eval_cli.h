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

/*
 * Write the DET of sets (when det is not NULL) and the histogram of sets[0] (when hist is not
 * NULL), and convert each to PNG next to it (OUT.svg -> OUT.png) when png is set; a missing
 * rsvg-convert is a note on stderr, not a failure. Returns 0, or -1 after printing why.
 */
int cw_cli_eval_plots(const char *det, const char *hist, int png, int log_y,
                      const cw_eval_scores_t *const *sets, int n, const char *title);

#endif
