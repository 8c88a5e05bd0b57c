// SPDX-License-Identifier: Apache-2.0
// `clearway sim`: population-scale studies of the clearance modes (docs/scale.md).
// - `sim population` (sim_population.c) models every mode's FPIR and FNIR for populations of
//   1,000 to 100,000,000 from measured score files;
// - `sim direct` (sim_direct.c) enrols real faces among synthetic distractors and measures them
//   with the real gallery search at 10k .. 10M.
// This file holds the command's table entry, the subcommands' entries (each with its own help:
// `clearway sim population --help`) and the dispatch.
#include "cli.h"

#include <stddef.h>
#include <string.h>

static const cw_cli_command_t sim_population = {
    "population",
    "Each mode's FPIR and FNIR for N = 1e3 .. 1e8 from score files; the largest N per mode",
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
    "- Policies: face-only cap = the largest N (1-2-5 grid) whose simulated FPIR is not\n"
    "  significantly above target, with >= 3 measured impostor scores expected above the\n"
    "  threshold; document-free: no cap while its FPIR holds, front target at N = 1e6.\n"
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
    "  --max-hint X (0.01)            document-free: largest front FPIR (strangers' hints)\n"
    "  --check                        simulate up to 1e8\n"
    "  --trials N (200000)            --seed N (1)\n"
    "  --json OUT                     everything, with the inputs' sizes and BLAKE2b-256\n"
    "  --policy OUT                   recommended \"policies\" per programme, with source\n"
    "\n"
    "Progress on stderr. Exit status: 0, 1 failure (unreadable or malformed file, too few\n"
    "impostor scores for a tail), 2 bad command line.\n",
    cw_cli_sim_population,
    NULL,
};

static const cw_cli_command_t sim_direct = {
    "direct",
    "Real faces among synthetic distractors: measured FPIR, FNIR and search time at 10k .. 10M",
    cw_cli_sim_direct_usage,
    cw_cli_sim_direct,
    NULL,
};

static const cw_cli_command_t *const sim_subs[] = {&sim_population, &sim_direct, NULL};

static int run_sim(int argc, char **argv);

const cw_cli_command_t cw_cmd_sim = {
    "sim",
    "Scale studies: how each mode's FPIR and FNIR follow the population size",
    "Usage: clearway sim population --face FACE.scores [--finger FINGER.scores] [options]\n"
    "       clearway sim direct [--dump FILE] [--root DIR] [--sizes 10k,100k,1M,10M] [options]\n"
    "\n"
    "population: from score files written by `clearway eval face|finger --scores`, each mode's\n"
    "            FPIR and FNIR for N = 1e3 .. 1e8 (a fitted impostor tail, checked by a direct\n"
    "            simulation), the largest N per mode, and recommended policies.\n"
    "direct:     the development faces enrolled among synthetic distractor templates drawn\n"
    "            from a model fitted to real embeddings, searched with the real gallery at\n"
    "            each size: measured FPIR, FNIR and search time.\n"
    "\n"
    "`clearway sim population --help` and `clearway sim direct --help` give each one's\n"
    "options and assumptions. docs/scale.md has the study these commands produce.\n",
    run_sim,
    sim_subs,
};

static int run_sim(int argc, char **argv)
{
    if (argc < 2) {
        return cw_cli_usage_error("sim", "expected a study: population or direct");
    }
    for (size_t i = 0; sim_subs[i] != NULL; i++) {
        if (strcmp(argv[1], sim_subs[i]->name) == 0) {
            return sim_subs[i]->run(argc, argv);
        }
    }
    return cw_cli_usage_error("sim", "unknown study '%s' (expected population or direct)", argv[1]);
}
