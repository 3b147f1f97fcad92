// Thread helpers shared by the kernels. With OpenMP absent everything runs serially,
// so callers never need their own #ifdef.
#pragma once
#include <cstdint>

#ifdef PYCSC_HAVE_OPENMP
#include <omp.h>
#endif

namespace pycsc {

inline int max_threads() {
#ifdef PYCSC_HAVE_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline int thread_id() {
#ifdef PYCSC_HAVE_OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Threads worth using for `work` units when one thread should get at least `grain` of them:
// small inputs stay single-threaded, where thread start-up would cost more than it saves.
inline int threads_for(int64_t work, int64_t grain) {
  if (grain <= 0) grain = 1;
  int64_t wanted = work / grain;
  int limit = max_threads();
  if (wanted < 1) return 1;
  return wanted < limit ? static_cast<int>(wanted) : limit;
}

}  // namespace pycsc
