// Host emulation of the CUDA built-ins that pycsc kernels may use (see csrc/cuda/common.cuh).
// Threads run one after another, so atomics are plain read-modify-writes returning the old
// value. Anything not defined here (__syncthreads, __shared__, warp intrinsics) fails to
// compile, which keeps kernels within the rules the emulator can check.
#pragma once
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

inline uint3 threadIdx, blockIdx;
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

template <class T> inline T pycsc_emu_old(T* p, T v) { T o = *p; *p = v; return o; }
#define PYCSC_EMU_ATOMIC(NAME, EXPR)                                              \
  template <class T, class U> inline T NAME(T* p, U v_) {                        \
    T v = static_cast<T>(v_); T o = *p; *p = (EXPR); return o; }
PYCSC_EMU_ATOMIC(atomicAdd, o + v)
PYCSC_EMU_ATOMIC(atomicSub, o - v)
PYCSC_EMU_ATOMIC(atomicMin, (v < o ? v : o))
PYCSC_EMU_ATOMIC(atomicMax, (v > o ? v : o))
PYCSC_EMU_ATOMIC(atomicExch, v)
PYCSC_EMU_ATOMIC(atomicOr, o | v)
PYCSC_EMU_ATOMIC(atomicAnd, o & v)
PYCSC_EMU_ATOMIC(atomicXor, o ^ v)
template <class T, class U, class V> inline T atomicCAS(T* p, U cmp, V v) {
  T o = *p; if (o == static_cast<T>(cmp)) *p = static_cast<T>(v); return o; }

template <class T> inline T __ldg(const T* p) { return *p; }
inline void __threadfence() {}
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

template <class F>
inline void launch(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   int mode, unsigned long long seed, F&& body) {
  gridDim = {gx, gy, gz};
  blockDim = {bx, by, bz};
  unsigned long long nb = (unsigned long long)gx * gy * gz;
  Order order(nb, mode, seed);
  for (unsigned long long k = 0; k < nb; ++k) {
    unsigned long long b = order[k];
    blockIdx = {unsigned(b % gx), unsigned((b / gx) % gy), unsigned(b / gx / gy)};
    for (unsigned z = 0; z < bz; ++z)
      for (unsigned y = 0; y < by; ++y)
        for (unsigned x = 0; x < bx; ++x) {
          threadIdx = {x, y, z};
          body();
        }
  }
}
}  // namespace pycsc_emu
