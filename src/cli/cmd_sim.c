// SPDX-License-Identifier: Apache-2.0
// `clearway sim`: population-scale studies of the decision rules (issue 9). This minimal version
// dispatches `sim direct` (sim_direct.c); the lead merges it with the `sim population` one.
#include "cli.h"

#include <stdio.h>
#include <string.h>

static int run_sim(int argc, char **argv);

const cw_cli_command_t cw_cmd_sim = {
    "sim",
    "Scale studies: how FPIR and FNIR follow the gallery size",
    cw_cli_sim_direct_usage,
    run_sim,
};

static int run_sim(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "direct") == 0) {
        return cw_cli_sim_direct(argc, argv);
    }
    return cw_cli_usage_error("sim", "expected `sim direct`");
}
