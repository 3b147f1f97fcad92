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
