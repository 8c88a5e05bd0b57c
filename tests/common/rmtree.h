/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper: remove a temporary folder and everything under it. */
#ifndef CW_TEST_RMTREE_H
#define CW_TEST_RMTREE_H

/*
 * cw_test_rmtree: remove path and everything below it: files, symbolic links (not what they
 * point to) and folders, including folders a test made read-only. Errors are ignored.
 */
void cw_test_rmtree(const char *path);

#endif
