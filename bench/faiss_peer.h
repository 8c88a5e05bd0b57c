/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/faiss_peer.h: the C face of bench/faiss_peer.cpp, the comparison peer of
 * bench/gallery_search: FAISS from Debian (libfaiss-dev 1.7.3, whose libfaiss.a ships the C API
 * headers but not the C functions) as IndexFlatIP (exact float inner product) and
 * IndexScalarQuantizer SQ8 (8-bit per dimension, approximate). Functions return 0 or -1; after
 * -1, peer_error() says why (a FAISS exception's message). Not thread-safe: one caller at a time.
 */
#ifndef CW_BENCH_FAISS_PEER_H
#define CW_BENCH_FAISS_PEER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum peer_kind { PEER_FLAT_IP = 0, PEER_SQ8 = 1 } peer_kind_t;

typedef struct peer_index peer_index_t;

/* FAISS's version and the BLAS found at run time (OpenBLAS config and threading model). */
void peer_describe(char *buf, size_t len);

/* The message of the last failure (static storage). */
const char *peer_error(void);

/* Threads FAISS (OpenMP) and OpenBLAS may use from now on. */
void peer_set_threads(int n);

/* An empty index of dim-dimensional vectors with room reserved for `reserve` of them. */
int peer_create(peer_kind_t kind, int dim, size_t reserve, peer_index_t **out);
void peer_destroy(peer_index_t *p);

/* Train (SQ8: per-dimension ranges; FlatIP: nothing), then add n row-major vectors. */
int peer_train(peer_index_t *p, const float *x, size_t n);
int peer_add(peer_index_t *p, const float *x, size_t n);

/* The k best rows (by inner product) of nq queries: scores and labels are nq x k. */
int peer_search(peer_index_t *p, const float *queries, size_t nq, int k, float *scores,
                int64_t *labels);

/* Bytes of the stored vectors (the codes). */
size_t peer_memory(const peer_index_t *p);

#ifdef __cplusplus
}
#endif
#endif
