// Shared definitions for pycsc's CUDA kernels.
//
// Every kernel source is compiled twice: by NVRTC at run time (through cupy.RawModule), and
// by the host compiler in the test suite's emulator (tests/gpu/_emulator.py), which runs
// each thread of each block one after another. Hence the rules for kernels here:
//   * entry points are `extern "C" __global__ void`, their scalar parameters use the
//     fixed-width names below, and dtypes are chosen by -D defines, not templates;
//   * no __syncthreads, shared-memory cooperation or warp intrinsics: a kernel must be
//     correct whatever order its threads run in, block by block;
//   * no standard headers (NVRTC has none); `#include` only the .cuh files of this folder.
#pragma once

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char i8;
typedef short i16;
typedef int i32;
typedef long long i64;

// Global linear thread index and grid-stride step for 1-D launches.
__device__ __forceinline__ u64 pycsc_thread_index() {
  return (u64)blockIdx.x * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ u64 pycsc_thread_stride() {
  return (u64)gridDim.x * blockDim.x;
}

// ---- float32 without flush-to-zero -------------------------------------------------------
// CuPy appends -ftz=true to every RawModule's options, after ours, and NVRTC honours the
// last one given: every float32 instruction the compiler emits would then flush subnormal
// inputs and results to zero, which the CPU path (like scipy and NumPy) never does. So the
// kernels never compute on float32 values as floats: they widen them to double exactly with
// an inline PTX conversion that carries no .ftz, work in double, and narrow back with an
// inline conversion rounding to nearest. Double instructions have no .ftz form. The test
// suite compiles every build with CuPy's options and checks that its PTX holds no .ftz.
template <class T>
__device__ __forceinline__ double pycsc_f64(T x) {
  return (double)x;
}
template <>
__device__ __forceinline__ double pycsc_f64<float>(float x) {
#if defined(__CUDA_ARCH__)
  double r;
  asm("cvt.f64.f32 %0, %1;" : "=d"(r) : "f"(x));
  return r;
#else
  return (double)x;
#endif
}

__device__ __forceinline__ float pycsc_f32(double x) {
#if defined(__CUDA_ARCH__)
  float r;
  asm("cvt.rn.f32.f64 %0, %1;" : "=f"(r) : "d"(x));
  return r;
#else
  return (float)x;
#endif
}

// v == 0 (true for -0.0, false for NaN), by bits for float32.
template <class T>
__device__ __forceinline__ bool pycsc_is_zero(T v) {
  return v == (T)0;
}
template <>
__device__ __forceinline__ bool pycsc_is_zero<float>(float v) {
  return (__float_as_int(v) & 0x7fffffff) == 0;
}
