// GPU path of pycsc.ops.rescale (scikit-image 0.26 `transform.rescale`, mode="constant",
// preserve_range=True, order 0 and 1), bit for bit equal to the CPU kernel
// (csrc/rescale*.hpp / .cpp), which is the reference for every operation below.
//
// Defines: IN_T (input dtype) and W_T (working / output dtype: IN_T for order 0, float for
// float32 input at order 1, double otherwise).
//
// Method (the driver is pycsc/gpu/resample.py):
//   * order 0 without smoothing: `rescale_gather`, one coalesced write per output voxel
//     from per-axis source index tables computed on the host with the CPU's formula.
//   * otherwise: the anti-aliasing Gaussian runs as separable passes over whole volumes,
//     z then y (`rescale_smooth_*`, each rounded to W like scipy's intermediate arrays),
//     and the x pass is fused into the interpolation (`rescale_interp_*`), which computes
//     the smoothed x taps it needs on the fly. Then scikit-image's clip: input and output
//     min / max as per-thread partials (folded by `rescale_fold_*`), `rescale_decide` (one
//     thread) picks the bounds, `rescale_clip` applies them (a no-op launch when the
//     output already lies inside them).
// Exactness: the same float64 operations in the same order as the CPU path (symmetric
// correlation `c*w0 + sum_{j=r..1} (x[-j] + x[+j])*w[j]`; linear taps summed from 0.0 as
// ((v*wz)*wy)*wx, z, y, x lexicographically), the same casts (scipy's CASE_INTERP_OUT
// rounding, plain C casts for filtered values, the CPU's handling of the 64-bit limits),
// compiled without FMA contraction, and float32 never computed on as float32 (CuPy's
// -ftz=true would flush subnormals; see common.cuh). NaN payloads may differ (GPU
// arithmetic returns the canonical NaN).
// Complexity: O(N_out) for the gather; O(N_in (r_z + r_y)) for the z / y passes plus
// O(N_out 2^d (r_x + 1)) for the interpolation with the fused x pass.
// Memory traffic: gather = N_out writes + the touched input lines; smoothing = one read and
// one write of the input volume per smoothed z / y axis; interpolation = the touched
// source lines + N_out writes; clip = nothing unless some output leaves the bounds.
// Peak device memory: input + output + at most two W volumes of the input's shape (during
// the y pass after a z pass) + one min / max pair per launched thread (<= 2048 x 256).
// Reference: csrc/rescale.cpp (itself scipy's NI_ZoomShift / NI_Correlate1D and
// skimage's resize). Oracle in tests: the CPU path (tests/gpu/test_resample.py).
#include "common.cuh"

// ---- dtype traits (no std headers under NVRTC) ------------------------------------------

template <class T>
struct rs_num;
#define RS_INT(T, SIGNED, LO, HI)                                     \
  template <>                                                         \
  struct rs_num<T> {                                                  \
    static constexpr bool integer = true, is_signed = SIGNED;         \
    static constexpr int bytes = sizeof(T);                           \
    __device__ static T lowest() { return (T)(LO); }                  \
    __device__ static T highest() { return (T)(HI); }                 \
  };
RS_INT(u8, false, 0, 255)
RS_INT(u16, false, 0, 65535)
RS_INT(u32, false, 0, 4294967295u)
RS_INT(u64, false, 0, 18446744073709551615ull)
RS_INT(i8, true, -128, 127)
RS_INT(i16, true, -32768, 32767)
RS_INT(i32, true, -2147483647 - 1, 2147483647)
RS_INT(i64, true, -9223372036854775807ll - 1, 9223372036854775807ll)
#undef RS_INT
// For floats the range limits are the infinities (the neutral elements of min / max).
template <>
struct rs_num<float> {
  static constexpr bool integer = false, is_signed = true;
  static constexpr int bytes = 4;
  __device__ static float lowest() { return __int_as_float((int)0xff800000u); }
  __device__ static float highest() { return __int_as_float(0x7f800000); }
};
template <>
struct rs_num<double> {
  static constexpr bool integer = false, is_signed = true;
  static constexpr int bytes = 8;
  __device__ static double lowest() { return __longlong_as_double((long long)0xfff0000000000000ull); }
  __device__ static double highest() { return __longlong_as_double(0x7ff0000000000000ll); }
};

template <class W>
__device__ __forceinline__ W rs_nan() {
  if constexpr (rs_num<W>::integer) {
    return (W)0;  // unreachable: integer ranges never hold NaN (rs_is_nan is false)
  } else if constexpr (rs_num<W>::bytes == 4) {
    return __int_as_float(0x7fc00000);  // the CPU's (float)NAN
  } else {
    return __longlong_as_double(0x7ff8000000000000ll);
  }
}

// Values as compared and widened: integers as they are, floats as exact doubles, so that no
// float32 instruction (which CuPy compiles to flush subnormals, see common.cuh) touches them.
template <class T>
__device__ __forceinline__ auto rs_key(T v) {
  if constexpr (rs_num<T>::integer) {
    return v;
  } else {
    return pycsc_f64(v);
  }
}

// A float64 cast to W as a C cast would (float32 rounded to nearest, subnormals kept).
template <class W>
__device__ __forceinline__ W rs_cast(double v) {
  if constexpr (!rs_num<W>::integer && rs_num<W>::bytes == 4) {
    return pycsc_f32(v);
  } else {
    return (W)v;
  }
}

// scipy's store of an interpolated float64 (CASE_INTERP_OUT): floats are cast; integers
// are rounded half away from zero, clamped and truncated; at the 64-bit limits the CPU
// kernel's (x86-64 scipy's) results.
template <class W>
__device__ __forceinline__ W rs_interp_out(double t) {
  if constexpr (!rs_num<W>::integer) {
    return rs_cast<W>(t);
  } else if constexpr (!rs_num<W>::is_signed) {
    const double hi = (double)rs_num<W>::highest();
    t = t > 0 ? t + 0.5 : 0.0;
    if (t > hi) t = hi;
    if constexpr (rs_num<W>::bytes == 8) {
      if (t >= 18446744073709551616.0) return (W)0;
    }
    return (W)t;
  } else {
    const double hi = (double)rs_num<W>::highest();
    const double lo = (double)rs_num<W>::lowest();
    t = t > 0 ? t + 0.5 : t - 0.5;
    if (t > hi) t = hi;
    if (t < lo) t = lo;
    if constexpr (rs_num<W>::bytes == 8) {
      if (t >= 9223372036854775808.0) return rs_num<W>::lowest();
    }
    return (W)t;
  }
}

// scipy's store of a filtered float64 (a plain C cast; the CPU's values where a 64-bit
// cast would overflow).
template <class W>
__device__ __forceinline__ W rs_store(double v) {
  if constexpr (rs_num<W>::integer && rs_num<W>::bytes == 8) {
    if constexpr (rs_num<W>::is_signed) {
      if (!(v < 9223372036854775808.0) || v < -9223372036854775808.0) return rs_num<W>::lowest();
    } else {
      if (!(v < 18446744073709551616.0) || v <= -1.0) return (W)0;
    }
  }
  return rs_cast<W>(v);
}

// NaN-ignoring running min / max (numpy's nanmin / nanmax) with a NaN flag.
template <class T>
struct rs_range {
  T lo, hi;
  u8 nan;
  __device__ rs_range() : lo(rs_num<T>::highest()), hi(rs_num<T>::lowest()), nan(0) {}
  __device__ __forceinline__ void add(T v) {
    if constexpr (rs_num<T>::integer) {
      merge(v, v, 0);
    } else {
      merge(v, v, (u8)(rs_key(v) != rs_key(v)));
    }
  }
  // Another range (lo2, hi2, nan2) folded in; a NaN value compares false and moves nothing.
  __device__ __forceinline__ void merge(T lo2, T hi2, u8 nan2) {
    lo = rs_key(lo2) < rs_key(lo) ? lo2 : lo;
    hi = rs_key(hi2) > rs_key(hi) ? hi2 : hi;
    nan |= nan2;
  }
  __device__ __forceinline__ void store(T* plo, T* phi, u8* pnan, u64 i) const {
    plo[i] = lo;
    phi[i] = hi;
    pnan[i] = nan;
  }
};

// ---- launch geometry ---------------------------------------------------------------------
// 3D launches: threads along x (coalesced), block rows and grid y along y, grid z along z,
// all grid-stride so that any grid covers any shape. One partial per thread.

__device__ __forceinline__ u64 rs_thread_id_3d() {
  const u64 block = ((u64)blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  return block * ((u64)blockDim.x * blockDim.y) + (u64)threadIdx.y * blockDim.x + threadIdx.x;
}

#define RS_FOR_Z(V_, N_) for (i64 V_ = blockIdx.z; V_ < (N_); V_ += gridDim.z)
#define RS_FOR_Y(V_, N_) \
  for (i64 V_ = (i64)blockIdx.y * blockDim.y + threadIdx.y; V_ < (N_); V_ += (i64)gridDim.y * blockDim.y)
#define RS_FOR_X(V_, N_) \
  for (i64 V_ = (i64)blockIdx.x * blockDim.x + threadIdx.x; V_ < (N_); V_ += (i64)gridDim.x * blockDim.x)

__device__ __forceinline__ bool rs_valid(i64 i, i64 n) { return i >= 0 && i < n; }

// ---- order 0 without smoothing -----------------------------------------------------------

// `start` holds the source index of every output index, z table, then y, then x. Values
// pass through float64 in scipy: only 64-bit integers can change, and then `changed` is
// set so that the driver clips like skimage.
extern "C" __global__ void rescale_gather(const IN_T* __restrict__ src, IN_T* __restrict__ dst, i64 nz,
                                          i64 ny, i64 nx, i64 onz, i64 ony, i64 onx, const i64* start,
                                          u32* changed) {
  const i64* sy_tab = start + onz;
  const i64* sx_tab = start + onz + ony;
  bool ch = false;
  RS_FOR_Z(oz, onz) {
    const i64 iz = start[oz];
    RS_FOR_Y(oy, ony) {
      const i64 iy = sy_tab[oy];
      IN_T* o = dst + (oz * ony + oy) * onx;
      const bool row_ok = rs_valid(iz, nz) && rs_valid(iy, ny);
      const IN_T* row = src + (row_ok ? (iz * ny + iy) * nx : 0);
      RS_FOR_X(ox, onx) {
        const i64 ix = sx_tab[ox];
        const IN_T v = row_ok && rs_valid(ix, nx) ? row[ix] : (IN_T)0;
        if constexpr (rs_num<IN_T>::integer && rs_num<IN_T>::bytes == 8) {
          const IN_T r = rs_interp_out<IN_T>((double)v);
          ch = ch || r != v;
          o[ox] = r;
        } else {
          o[ox] = v;
        }
      }
    }
  }
  if (ch) atomicOr(changed, 1u);
}

// ---- anti-aliasing: one separable Gaussian pass along z (axis 0) or y (axis 1) -----------

// dst = W(correlate1d(src, half, axis)) with zero padding, scipy's symmetric summation
// order; `track` gathers the min / max of src (the input) as per-thread partials.
template <class S>
__device__ __forceinline__ void rs_smooth(const S* __restrict__ src, W_T* __restrict__ dst, i64 nz, i64 ny,
                                          i64 nx, u32 axis, i32 radius, const double* half, S* part_lo,
                                          S* part_hi, u8* part_nan, bool track) {
  const i64 stride = axis == 0 ? ny * nx : nx;
  const i64 n_axis = axis == 0 ? nz : ny;
  rs_range<S> range;
  RS_FOR_Z(z, nz) {
    RS_FOR_Y(y, ny) {
      const i64 pos = axis == 0 ? z : y;
      const i64 base = (z * ny + y) * nx;
      RS_FOR_X(x, nx) {
        const S* c = src + base + x;
        if (track) range.add(c[0]);
        double t = pycsc_f64(c[0]) * half[0];
        for (i32 j = radius; j >= 1; --j) {
          const double lo = pos - j >= 0 ? pycsc_f64(c[-j * stride]) : 0.0;
          const double hi = pos + j < n_axis ? pycsc_f64(c[j * stride]) : 0.0;
          t += (lo + hi) * half[j];
        }
        dst[base + x] = rs_store<W_T>(t);
      }
    }
  }
  if (track) range.store(part_lo, part_hi, part_nan, rs_thread_id_3d());
}

extern "C" __global__ void rescale_smooth_in(const IN_T* __restrict__ src, W_T* __restrict__ dst, i64 nz,
                                             i64 ny, i64 nx, u32 axis, i32 radius, const double* half,
                                             IN_T* part_lo, IN_T* part_hi, u8* part_nan) {
  rs_smooth<IN_T>(src, dst, nz, ny, nx, axis, radius, half, part_lo, part_hi, part_nan, true);
}

extern "C" __global__ void rescale_smooth_w(const W_T* __restrict__ src, W_T* __restrict__ dst, i64 nz,
                                            i64 ny, i64 nx, u32 axis, i32 radius, const double* half) {
  rs_smooth<W_T>(src, dst, nz, ny, nx, axis, radius, half, nullptr, nullptr, nullptr, false);
}

// ---- interpolation (order 0 after smoothing, or order 1), x smoothing fused --------------

// Source value at x of a row: the stored value, or (rx >= 0) the x pass of the Gaussian
// evaluated here, rounded to W as the CPU's x pass stores it.
template <class S>
__device__ __forceinline__ double rs_fetch(const S* row, i64 x, i64 nx, i32 rx, const double* xhalf) {
  if (rx < 0) return pycsc_f64(row[x]);
  double t = pycsc_f64(row[x]) * xhalf[0];
  for (i32 j = rx; j >= 1; --j) {
    const double lo = x - j >= 0 ? pycsc_f64(row[x - j]) : 0.0;
    const double hi = x + j < nx ? pycsc_f64(row[x + j]) : 0.0;
    t += (lo + hi) * xhalf[j];
  }
  return pycsc_f64(rs_store<W_T>(t));
}

// `start`, `w0`, `w1`: per output index the first source tap and (order 1) its weights,
// z table, then y, then x. Output min / max go to per-thread partials.
template <class S>
__device__ __forceinline__ void rs_interp(const S* __restrict__ src, W_T* __restrict__ dst, i64 nz, i64 ny,
                                          i64 nx, i64 onz, i64 ony, i64 onx, u32 order, const i64* start,
                                          const double* w0, const double* w1, i32 rx, const double* xhalf,
                                          W_T* part_lo, W_T* part_hi, u8* part_nan) {
  const i64 ty = onz, tx = onz + ony;
  rs_range<W_T> range;
  RS_FOR_Z(oz, onz) {
    const i64 sz = start[oz];
    RS_FOR_Y(oy, ony) {
      const i64 sy = start[ty + oy];
      W_T* o = dst + (oz * ony + oy) * onx;
      // The four (z, y) source rows in scipy's tap order (z, then y), with their z and y
      // weights; slot 0 alone for order 0. Fixed slots keep the arrays in registers.
      const S* rows[4];
      double a[4], b[4];
      bool use[4];
      for (int k = 0; k < 4; ++k) {
        const int dz = k >> 1, dy = k & 1;
        use[k] = (order == 1 || k == 0) && rs_valid(sz + dz, nz) && rs_valid(sy + dy, ny);
        rows[k] = src + (use[k] ? ((sz + dz) * ny + sy + dy) * nx : 0);
        a[k] = order == 1 ? (dz == 0 ? w0[oz] : w1[oz]) : 1.0;
        b[k] = order == 1 ? (dy == 0 ? w0[ty + oy] : w1[ty + oy]) : 1.0;
      }
      RS_FOR_X(ox, onx) {
        const i64 sx = start[tx + ox];
        W_T v;
        if (order == 0) {
          v = use[0] ? rs_interp_out<W_T>(rs_valid(sx, nx) ? rs_fetch<S>(rows[0], sx, nx, rx, xhalf) : 0.0)
                     : (W_T)0;
        } else {
          const double u = w0[tx + ox], w = w1[tx + ox];
          const bool left = rs_valid(sx, nx), right = rs_valid(sx + 1, nx);
          double t = 0.0;
          for (int k = 0; k < 4; ++k) {
            if (!use[k]) continue;
            if (left) t += ((rs_fetch<S>(rows[k], sx, nx, rx, xhalf) * a[k]) * b[k]) * u;
            if (right) t += ((rs_fetch<S>(rows[k], sx + 1, nx, rx, xhalf) * a[k]) * b[k]) * w;
          }
          v = rs_interp_out<W_T>(t);
        }
        o[ox] = v;
        range.add(v);
      }
    }
  }
  range.store(part_lo, part_hi, part_nan, rs_thread_id_3d());
}

extern "C" __global__ void rescale_interp_in(const IN_T* __restrict__ src, W_T* __restrict__ dst, i64 nz,
                                             i64 ny, i64 nx, i64 onz, i64 ony, i64 onx, u32 order,
                                             const i64* start, const double* w0, const double* w1, i32 rx,
                                             const double* xhalf, W_T* part_lo, W_T* part_hi,
                                             u8* part_nan) {
  rs_interp<IN_T>(src, dst, nz, ny, nx, onz, ony, onx, order, start, w0, w1, rx, xhalf, part_lo, part_hi,
                  part_nan);
}

extern "C" __global__ void rescale_interp_w(const W_T* __restrict__ src, W_T* __restrict__ dst, i64 nz,
                                            i64 ny, i64 nx, i64 onz, i64 ony, i64 onx, u32 order,
                                            const i64* start, const double* w0, const double* w1, i32 rx,
                                            const double* xhalf, W_T* part_lo, W_T* part_hi, u8* part_nan) {
  rs_interp<W_T>(src, dst, nz, ny, nx, onz, ony, onx, order, start, w0, w1, rx, xhalf, part_lo, part_hi,
                 part_nan);
}

// ---- scikit-image's clip -------------------------------------------------------------------

// Min / max partials of n values (1-D grid-stride launch, one partial per thread).
extern "C" __global__ void rescale_range(const IN_T* v, u64 n, IN_T* part_lo, IN_T* part_hi, u8* part_nan) {
  rs_range<IN_T> range;
  for (u64 i = pycsc_thread_index(); i < n; i += pycsc_thread_stride()) range.add(v[i]);
  range.store(part_lo, part_hi, part_nan, pycsc_thread_index());
}

// Folds n (min, max, NaN seen) partials into one per thread of a 1-D launch; run twice
// (many threads, then one) to reach a single range. Not CuPy's min / max: CuPy compiles its
// own kernels with -ftz=true too, and would compare float32 subnormals as zeros.
template <class T>
__device__ __forceinline__ void rs_fold(const T* lo, const T* hi, const u8* nan, u64 n, T* out_lo, T* out_hi,
                                        u8* out_nan) {
  rs_range<T> range;
  for (u64 i = pycsc_thread_index(); i < n; i += pycsc_thread_stride()) range.merge(lo[i], hi[i], nan[i]);
  range.store(out_lo, out_hi, out_nan, pycsc_thread_index());
}

extern "C" __global__ void rescale_fold_in(const IN_T* lo, const IN_T* hi, const u8* nan, u64 n, IN_T* out_lo,
                                           IN_T* out_hi, u8* out_nan) {
  rs_fold<IN_T>(lo, hi, nan, n, out_lo, out_hi, out_nan);
}

extern "C" __global__ void rescale_fold_w(const W_T* lo, const W_T* hi, const u8* nan, u64 n, W_T* out_lo,
                                          W_T* out_hi, u8* out_nan) {
  rs_fold<W_T>(lo, hi, nan, n, out_lo, out_hi, out_nan);
}

// [lo, hi] widened to 0 when 0 lies outside it but inside the output range [olo, ohi]
// (`out_ok`: that range exists and has no NaN to propagate). A template, so that the
// unsigned branch never sees comparisons that are always true.
template <class W>
__device__ __forceinline__ void rs_widen_to_zero(W& lo, W& hi, bool out_ok, W olo, W ohi) {
  const W zero = (W)0;
  if constexpr (rs_num<W>::is_signed) {
    const auto z = rs_key(zero);
    const bool in_has_zero = rs_key(lo) <= z && z <= rs_key(hi);
    const bool out_has_zero = out_ok && rs_key(olo) <= z && z <= rs_key(ohi);
    if (!in_has_zero && out_has_zero) {
      lo = z < rs_key(lo) ? zero : lo;
      hi = rs_key(hi) < z ? zero : hi;
    }
  } else if (lo != zero && out_ok && olo == zero) {
    lo = zero;
  }
}

template <class W>
__device__ __forceinline__ bool rs_is_nan(W v) {
  if constexpr (rs_num<W>::integer) {
    return false;
  } else {
    return rs_key(v) != rs_key(v);
  }
}

// skimage's _clip_warp_output (mode="constant", cval=0) from the folded input and output
// ranges: bounds = the input range, widened to 0 when 0 lies outside it but inside the
// output's; verdict 0 = nothing to do, 1 = clip to `bounds`, 2 = all NaN (NaN bounds).
// Operations as in the CPU's clip_like_skimage. One thread.
extern "C" __global__ void rescale_decide(const IN_T* in_lo, const IN_T* in_hi, const u8* in_nan,
                                          const W_T* out_lo, const W_T* out_hi, const u8* out_nan,
                                          W_T* bounds, u32* verdict) {
  if (pycsc_thread_index() != 0) return;
  const bool in_any = rs_key(in_lo[0]) <= rs_key(in_hi[0]);
  W_T lo, hi;
  if constexpr (!rs_num<W_T>::integer) {
    lo = in_any ? rs_cast<W_T>(pycsc_f64(in_lo[0])) : rs_nan<W_T>();
    hi = in_any ? rs_cast<W_T>(pycsc_f64(in_hi[0])) : rs_nan<W_T>();
  } else {
    lo = (W_T)in_lo[0];
    hi = (W_T)in_hi[0];
  }
  const W_T olo = out_lo[0], ohi = out_hi[0];
  const bool out_any = rs_key(olo) <= rs_key(ohi);
  const bool out_nan_seen = in_nan[0] == 0 && out_nan[0] != 0;
  rs_widen_to_zero<W_T>(lo, hi, !out_nan_seen && out_any, olo, ohi);
  bounds[0] = lo;
  bounds[1] = hi;
  if (rs_is_nan(lo) || rs_is_nan(hi)) {
    verdict[0] = 2;
    return;
  }
  verdict[0] = (!out_any || (rs_key(olo) >= rs_key(lo) && rs_key(ohi) <= rs_key(hi))) ? 0u : 1u;
}

// Applies rescale_decide's verdict to the n outputs (1-D grid-stride launch).
extern "C" __global__ void rescale_clip(W_T* out, u64 n, const W_T* bounds, const u32* verdict) {
  const u32 m = verdict[0];
  if (m == 0) return;
  const W_T lo = bounds[0], hi = bounds[1];
  for (u64 i = pycsc_thread_index(); i < n; i += pycsc_thread_stride()) {
    if (m == 2) {
      out[i] = rs_nan<W_T>();
    } else {
      const W_T v = out[i];
      out[i] = rs_key(v) < rs_key(lo) ? lo : (rs_key(v) > rs_key(hi) ? hi : v);
    }
  }
}
