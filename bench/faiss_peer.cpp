// SPDX-License-Identifier: Apache-2.0
// bench/faiss_peer.cpp: FAISS behind the small C interface of faiss_peer.h, so that
// bench/gallery_search (C) can put the same vectors and queries through the peer in the same
// run. Debian's libfaiss.a has the C API headers but not the C functions, hence this file. Every
// FAISS call is wrapped: an exception becomes -1 and a message, never an abort in the C caller.
#include "faiss_peer.h"

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexScalarQuantizer.h>

#include <dlfcn.h>
#include <omp.h>

#include <cstdio>
#include <exception>
#include <type_traits>

static_assert(std::is_same<faiss::Index::idx_t, int64_t>::value, "FAISS labels are int64_t");

struct peer_index {
    faiss::IndexFlatCodes *index;
};

static char last_error[512];

static int fail(const char *what, const char *detail)
{
    std::snprintf(last_error, sizeof(last_error), "%s: %s", what, detail);
    return -1;
}

extern "C" {

const char *peer_error(void)
{
    return last_error;
}

void peer_describe(char *buf, size_t len)
{
    // Looked up at run time: what matters is the OpenBLAS the loader actually picked (the
    // OpenMP flavour, through the executable's RUNPATH), not the one linked against.
    using config_fn = char *(*)(void);
    using parallel_fn = int (*)(void);
    auto config = reinterpret_cast<config_fn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
    auto parallel = reinterpret_cast<parallel_fn>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
    const char *model = "unknown";
    if (parallel != nullptr) {
        int p = parallel();
        model = p == 0 ? "sequential" : p == 1 ? "pthreads" : p == 2 ? "OpenMP" : "unknown";
    }
    std::snprintf(buf, len, "FAISS %d.%d.%d (Debian libfaiss.a), BLAS %s, %s threading",
                  FAISS_VERSION_MAJOR, FAISS_VERSION_MINOR, FAISS_VERSION_PATCH,
                  config != nullptr ? config() : "not OpenBLAS", model);
}

void peer_set_threads(int n)
{
    omp_set_num_threads(n > 0 ? n : 1);
}

int peer_create(peer_kind_t kind, int dim, size_t reserve, peer_index_t **out)
{
    *out = nullptr;
    peer_index_t *p = nullptr;
    try {
        p = new peer_index_t{nullptr};
        if (kind == PEER_FLAT_IP) {
            p->index = new faiss::IndexFlatIP(dim);
        } else {
            p->index = new faiss::IndexScalarQuantizer(dim, faiss::ScalarQuantizer::QT_8bit,
                                                       faiss::METRIC_INNER_PRODUCT);
        }
        // Reserved up front: growing the code vector by doubling would briefly need twice the
        // memory, which at 10M rows is the difference between fitting and not.
        p->index->codes.reserve(reserve * p->index->code_size);
    } catch (const std::exception &e) {
        if (p != nullptr) {
            delete p->index;
        }
        delete p;
        return fail("peer_create", e.what());
    }
    *out = p;
    return 0;
}

void peer_destroy(peer_index_t *p)
{
    if (p != nullptr) {
        delete p->index;
        delete p;
    }
}

int peer_train(peer_index_t *p, const float *x, size_t n)
{
    try {
        if (!p->index->is_trained) {
            p->index->train(static_cast<faiss::Index::idx_t>(n), x);
        }
    } catch (const std::exception &e) {
        return fail("peer_train", e.what());
    }
    return 0;
}

int peer_add(peer_index_t *p, const float *x, size_t n)
{
    try {
        p->index->add(static_cast<faiss::Index::idx_t>(n), x);
    } catch (const std::exception &e) {
        return fail("peer_add", e.what());
    }
    return 0;
}

int peer_search(peer_index_t *p, const float *queries, size_t nq, int k, float *scores,
                int64_t *labels)
{
    try {
        p->index->search(static_cast<faiss::Index::idx_t>(nq), queries, k, scores, labels);
    } catch (const std::exception &e) {
        return fail("peer_search", e.what());
    }
    return 0;
}

size_t peer_memory(const peer_index_t *p)
{
    return p->index->codes.size();
}

} // extern "C"
