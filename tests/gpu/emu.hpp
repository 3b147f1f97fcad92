// Host emulation of the CUDA built-ins that pycsc kernels may use (see csrc/cuda/common.cuh).
// Within a block, GPU threads run one after another. Blocks run either one after another in
// a chosen order (forward, reverse, seeded shuffle), or spread over several OS threads at
// once ("threads" mode), where the atomics below are real and kernels truly race on shared
// data. Plain loads and stores that race are formally undefined in C++; aligned words on
// x86 behave like the GPU's relaxed accesses. Anything not defined here (__syncthreads,
// __shared__, warp intrinsics) fails to compile, which keeps kernels within the rules the
// emulator can check.
#pragma once
#include <atomic>
#include <thread>
#include <vector>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)

struct uint3 { unsigned int x, y, z; };
struct dim3 { unsigned int x, y, z; };

inline thread_local uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

using std::min;
using std::max;
using std::floor;
using std::ceil;
using std::sqrt;
using std::fabs;
using std::fmin;
using std::fmax;
using std::round;
using std::lround;
using std::nearbyint;
using std::trunc;
using std::exp;
using std::log;
using std::pow;

// Every atomic is a compare-and-swap loop on the value's bytes (as the GPU compares them),
// so one template serves integers, float and double alike.
template <class T, class F> inline T pycsc_emu_rmw(T* p, F f) {
  T old;
  __atomic_load(p, &old, __ATOMIC_SEQ_CST);
  for (;;) {
    T desired = f(old);
    if (__atomic_compare_exchange(p, &old, &desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
      return old;
  }
}
#define PYCSC_EMU_ATOMIC(NAME, EXPR)                                                  \
  template <class T, class U> inline T NAME(T* p, U v_) {                            \
    const T v = static_cast<T>(v_);                                                  \
    return pycsc_emu_rmw(p, [&](T o) -> T { return (EXPR); }); }
PYCSC_EMU_ATOMIC(atomicAdd, o + v)
PYCSC_EMU_ATOMIC(atomicSub, o - v)
PYCSC_EMU_ATOMIC(atomicMin, (v < o ? v : o))
PYCSC_EMU_ATOMIC(atomicMax, (v > o ? v : o))
PYCSC_EMU_ATOMIC(atomicExch, v)
PYCSC_EMU_ATOMIC(atomicOr, o | v)
PYCSC_EMU_ATOMIC(atomicAnd, o & v)
PYCSC_EMU_ATOMIC(atomicXor, o ^ v)
template <class T, class U, class V> inline T atomicCAS(T* p, U cmp, V v) {
  T expected = static_cast<T>(cmp), desired = static_cast<T>(v);
  __atomic_compare_exchange(p, &expected, &desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return expected;  // the old value whether or not the swap happened
}

template <class T> inline T __ldg(const T* p) { return *p; }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(unsigned int x) { return x ? __builtin_clz(x) : 32; }
inline int __clzll(unsigned long long x) { return x ? __builtin_clzll(x) : 64; }
inline int __ffs(unsigned int x) { return __builtin_ffs(x); }
inline int __ffsll(unsigned long long x) { return __builtin_ffsll(x); }
inline double __longlong_as_double(long long x) { double d; std::memcpy(&d, &x, 8); return d; }
inline long long __double_as_longlong(double d) { long long x; std::memcpy(&x, &d, 8); return x; }
inline float __int_as_float(int x) { float f; std::memcpy(&f, &x, 4); return f; }
inline int __float_as_int(float f) { int x; std::memcpy(&x, &f, 4); return x; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }

namespace pycsc_emu {
// Argument kinds reported to Python so that a scalar of the wrong width or signedness is
// caught here (CuPy would pass it through and the kernel would read garbage).
template <class T> constexpr int kind() {
  if constexpr (std::is_pointer_v<T>) return 'p' * 256 + 8;
  else if constexpr (std::is_floating_point_v<T>) return 'f' * 256 + int(sizeof(T));
  else if constexpr (std::is_signed_v<T>) return 'i' * 256 + int(sizeof(T));
  else return 'u' * 256 + int(sizeof(T));
}

// Block order: forward, reverse, or a seeded shuffle, so kernels that silently depend on
// block 0 running first are caught.
struct Order {
  unsigned long long n, seed; int mode;
  unsigned long long* perm = nullptr;
  Order(unsigned long long n_, int mode_, unsigned long long seed_) : n(n_), seed(seed_), mode(mode_) {
    if (mode == 2 && n > 1) {
      perm = new unsigned long long[n];
      for (unsigned long long i = 0; i < n; ++i) perm[i] = i;
      unsigned long long s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      for (unsigned long long i = n - 1; i > 0; --i) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned long long j = (s >> 11) % (i + 1);
        std::swap(perm[i], perm[j]);
      }
    }
  }
  ~Order() { delete[] perm; }
  unsigned long long operator[](unsigned long long i) const {
    return mode == 1 ? n - 1 - i : (perm ? perm[i] : i);
  }
};

// OS threads for "threads" mode (set from Python through pycsc_emu_set_workers).
inline int workers = 4;

template <class F>
inline void run_block(unsigned long long b, unsigned gx, unsigned gy, unsigned bx, unsigned by,
                      unsigned bz, F& body) {
  blockIdx = {unsigned(b % gx), unsigned((b / gx) % gy), unsigned(b / gx / gy)};
  for (unsigned z = 0; z < bz; ++z)
    for (unsigned y = 0; y < by; ++y)
      for (unsigned x = 0; x < bx; ++x) {
        threadIdx = {x, y, z};
        body();
      }
}

// mode 0 forward, 1 reverse, 2 seeded shuffle: blocks one after another. Mode 3: blocks in a
// seeded shuffle, taken by `workers` OS threads at once.
template <class F>
inline void launch(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   int mode, unsigned long long seed, F&& body) {
  gridDim = {gx, gy, gz};
  blockDim = {bx, by, bz};
  const unsigned long long nb = (unsigned long long)gx * gy * gz;
  const Order order(nb, mode == 3 ? 2 : mode, seed);
  if (mode != 3 || workers <= 1 || nb <= 1) {
    for (unsigned long long k = 0; k < nb; ++k) run_block(order[k], gx, gy, bx, by, bz, body);
    return;
  }
  std::atomic<unsigned long long> next{0};
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      for (unsigned long long k; (k = next.fetch_add(1)) < nb;) run_block(order[k], gx, gy, bx, by, bz, body);
    });
  for (auto& t : pool) t.join();
}
}  // namespace pycsc_emu
