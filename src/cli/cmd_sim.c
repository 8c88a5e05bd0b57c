// SPDX-License-Identifier: Apache-2.0
// `clearway sim`: population-scale studies of the clearance modes. `sim population`
// (sim_population.c) models every mode's FPIR and FNIR for populations of 1,000 to 100,000,000
// from measured score files. This file holds the command's table entry, its help (every
// subcommand's options and assumptions) and the dispatch.
#include "cli.h"

#include <string.h>

static int run_sim(int argc, char **argv);

const cw_cli_command_t cw_cmd_sim = {
    "sim",
    "Population-scale study: each mode's FPIR and FNIR for N = 1e3 .. 1e8",
    "Usage: clearway sim population --face FACE.scores [--finger FINGER.scores] [options]\n"
    "\n"
    "sim population: from \"clearway-scores 1\" files (include/clearway/eval.h), each mode's\n"
    "FPIR and FNIR for N = 1e3 .. 1e8, a direct simulation beside the model, and the largest N\n"
    "per mode with FPIR <= --target-fpir and FNIR <= --max-fnir. Modes: face-only 1:N (closed\n"
    "area, Flight Token), document-free (needs --finger), face 1:1 (contactless, smart\n"
    "departure). Model and assumptions:\n"
    "- Accept when score >= t. A search of N rows is N independent impostor comparisons.\n"
    "- Impostor FMR: empirical below u, above it a generalised Pareto fit by the library's\n"
    "  cw_gallery_calibrate, face and finger apart; thresholds invert it, uncapped (fingers).\n"
    "  Genuine scores: empirical.\n"
    "- Face 1:N: t(N) as the gallery's; FPIR = 1 - (1 - FMR(t))^N; a mate with score s is\n"
    "  matched if s >= t and none of N - 1 others reaches min(t, s - margin).\n"
    "- Document-free: an impostor always confirms and passes the inside face 1:1 (P = 1);\n"
    "  the finger passes if any of --fingers comparisons does, at --finger-fmr / fingers.\n"
    "  FPIR = FPIR(front) x P(finger); FNIR = 1 - P(front MATCH) x P(inside face) x\n"
    "  P(finger), genuine captures independent. Front target: from 1e-3 .. 0.5 the one with\n"
    "  the lowest FNIR that meets the FPIR target (the largest would lose matches to the\n"
    "  ambiguity guard); also shown at the face-only decision FPIR. Stranger's hint: the\n"
    "  front's FPIR; wrong hint: the mate is not rank 1 and rank 1 passes (upper bound).\n"
    "- 1:1: FPIR = FMR(t), FNIR = FNMR(t) at --face-fmr, for any N.\n"
    "- Per transaction of k captures: FPIR 1 - (1 - FPIR)^k (independent impostor retries),\n"
    "  FNIR between FNIR^k and FNIR; the criterion uses these conservative ends. The face 1:N\n"
    "  decision FPIR per attempt is 1 - (1 - target)^(1/k) unless --decision-fpir is given.\n"
    "- Largest N: 20-per-decade grid over [10, 1e8], then bisection; per attempt too.\n"
    "- Direct simulation (N = 1e3, 1e4; --check to 1e8): N impostor scores drawn from the\n"
    "  measured ones (the best two drawn exactly), a measured genuine one for mated\n"
    "  searches, decided by the real cw_gallery_decide. Past the largest measured impostor\n"
    "  score it can only say 0: there the model extrapolates.\n"
    "\n"
    "Options (defaults from cw_clearance_policy_default):\n"
    "  --face FILE, --finger FILE     score files (face required; repeat to pool files)\n"
    "  --same-person FILE             NAME_A<TAB>NAME_B lines: one person under two names;\n"
    "                                 their pairs are not impostors (dropped, counted)\n"
    "  --target-fpir X (1e-3)         --max-fnir X (0.05)       --margin X (0.05)\n"
    "  --decision-fpir X              face 1:N FPIR per attempt\n"
    "  --tail-fraction Q (1e-3)       face; needs 100 / Q impostor scores\n"
    "  --finger-tail-fraction Q       default Q raised to leave 200 above u (<= 0.1)\n"
    "  --face-fmr X (1e-4)            --inside-face-fmr X (1e-3)  --finger-fmr X (1e-4)\n"
    "  --fingers N (2)                --captures N (3)\n"
    "  --check                        simulate up to 1e8\n"
    "  --trials N (200000)            --seed N (1)\n"
    "  --json OUT                     everything, with the inputs' sizes and BLAKE2b-256\n"
    "  --policy OUT                   recommended \"policies\" per programme, with source\n"
    "\n"
    "Progress on stderr. Exit status: 0, 1 failure (unreadable or malformed file, too few\n"
    "impostor scores for a tail), 2 bad command line.\n",
    run_sim,
};

static int run_sim(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "population") == 0) {
        return cw_cli_sim_population(argc, argv);
    }
    if (argc < 2) {
        return cw_cli_usage_error("sim", "expected `sim population --face FILE`");
    }
    return cw_cli_usage_error("sim", "unknown study '%s' (expected population)", argv[1]);
}
