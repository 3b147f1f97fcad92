// Hausdorff distances, part 2: per-id nearest-boundary searches (k-d tree with bounds and
// early break) and the numpy-exact statistics. See hausdorff.hpp for the method.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "hausdorff_detail.hpp"
#include "parallel.hpp"

namespace pycsc::hd {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Point {
  int32_t c[3];
};

inline Point decode(uint64_t e) { return {{unpack_z(e), unpack_y(e), unpack_x(e)}}; }

inline double point_q(const Metric& m, const Point& a, const Point& b) {
  return m.q(a.c[0] - b.c[0], a.c[1] - b.c[1], a.c[2] - b.c[2]);
}

// Static k-d tree over voxel coordinates, queried with scipy's rounded squared metric. A
// node's lower bound uses the same monotone formula on the per-axis gaps to its box, so it
// never exceeds the rounded distance to any voxel inside: pruning is exact.
class KdTree {
 public:
  void build(const uint64_t* entries, int64_t n, const Metric& m) {
    metric_ = &m;
    pts_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) pts_[i] = decode(entries[i]);
    nodes_.clear();
    nodes_.reserve(static_cast<size_t>(2 * n / kLeaf + 2));
    build_node(0, static_cast<int32_t>(n));
  }

  const Point& point(int32_t i) const { return pts_[i]; }

  // Smallest distance below `bound` (returns `bound` when none), stopping as soon as one at
  // or below `stop` is found. `*hit` receives the index of the voxel found, if any.
  double nearest(const Point& a, double bound, double stop, int32_t* hit) const {
    struct Item {
      int32_t node;
      double lb;
    };
    Item stack[2 * 64];
    int sp = 0;
    double best = bound;
    int32_t node = 0;
    if (box_q(nodes_[0], a) >= best) return best;
    for (;;) {
      while (nodes_[node].left >= 0) {
        const Node& nd = nodes_[node];
        double lb_l = box_q(nodes_[nd.left], a), lb_r = box_q(nodes_[nd.right], a);
        int32_t near = nd.left, far = nd.right;
        if (lb_r < lb_l) {
          std::swap(near, far);
          std::swap(lb_l, lb_r);
        }
        if (lb_r < best) stack[sp++] = {far, lb_r};
        if (lb_l >= best) {
          node = -1;
          break;
        }
        node = near;
      }
      if (node >= 0) {
        const Node& nd = nodes_[node];
        for (int32_t i = nd.begin; i < nd.end; ++i) {
          const double q = point_q(*metric_, a, pts_[i]);
          if (q < best) {
            best = q;
            *hit = i;
            if (best <= stop) return best;
          }
        }
      }
      do {
        if (sp == 0) return best;
        --sp;
      } while (stack[sp].lb >= best);
      node = stack[sp].node;
    }
  }

 private:
  static constexpr int32_t kLeaf = 12;
  struct Node {
    int32_t lo[3], hi[3];
    int32_t begin, end, left, right;
  };

  double box_q(const Node& nd, const Point& a) const {
    int64_t gap[3];
    for (int k = 0; k < 3; ++k)
      gap[k] = a.c[k] < nd.lo[k] ? nd.lo[k] - a.c[k] : (a.c[k] > nd.hi[k] ? a.c[k] - nd.hi[k] : 0);
    return metric_->q(gap[0], gap[1], gap[2]);
  }

  int32_t build_node(int32_t begin, int32_t end) {
    const int32_t id = static_cast<int32_t>(nodes_.size());
    nodes_.push_back({});
    Node nd{};
    for (int k = 0; k < 3; ++k) {
      nd.lo[k] = std::numeric_limits<int32_t>::max();
      nd.hi[k] = std::numeric_limits<int32_t>::min();
    }
    for (int32_t i = begin; i < end; ++i)
      for (int k = 0; k < 3; ++k) {
        nd.lo[k] = std::min(nd.lo[k], pts_[i].c[k]);
        nd.hi[k] = std::max(nd.hi[k], pts_[i].c[k]);
      }
    nd.begin = begin;
    nd.end = end;
    nd.left = nd.right = -1;
    if (end - begin > kLeaf) {
      int axis = 0;
      double widest = -1.0;
      for (int k = 0; k < 3; ++k) {
        const double w = metric_->sq[k][nd.hi[k] - nd.lo[k]];
        if (w > widest) widest = w, axis = k;
      }
      const int32_t mid = begin + (end - begin) / 2;
      std::nth_element(pts_.begin() + begin, pts_.begin() + mid, pts_.begin() + end,
                       [axis](const Point& p, const Point& q) { return p.c[axis] < q.c[axis]; });
      nd.left = build_node(begin, mid);
      nd.right = build_node(mid, end);
    }
    nodes_[id] = nd;
    return id;
  }

  const Metric* metric_ = nullptr;
  std::vector<Point> pts_;
  std::vector<Node> nodes_;
};

// Per-thread scratch, reused across ids.
struct Scratch {
  KdTree tree;
  std::vector<double> values;
  std::vector<int64_t> pending;
  uint64_t rng = 0x9E3779B97F4A7C15ull;
};

inline uint64_t next_random(uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

// One direction of the standard distance: max over the sources of the squared distance to
// the targets, starting from `running` (the other direction's maximum) since only the larger
// matters. Returns a value >= cap_q as soon as the cap is certain.
double directed_max(const uint64_t* src, int64_t ns, const uint64_t* tgt, int64_t nt, const Metric& m,
                    double cap_q, double running, Scratch& s) {
  double cmax = running;
  auto& pending = s.pending;
  pending.clear();
  for (int64_t i = 0; i < ns; ++i) {
    const uint64_t e = src[i];
    if (e & kInOther) continue;
    const uint64_t code = (e >> kCodeShift) & kCodeMask;
    if (code != kNoNeighbour) {
      const double u = m.nbr[code].q;
      if (u <= cmax) continue;
      if (u <= m.cert_q) {
        cmax = u;
        if (cmax >= cap_q) return cmax;
        continue;
      }
    }
    pending.push_back(i);
  }
  if (pending.empty()) return cmax;
  // Random order makes the running maximum grow early, so most later queries stop at their
  // first target within it (Taha & Hanbury).
  for (size_t i = pending.size(); i > 1; --i) std::swap(pending[i - 1], pending[next_random(s.rng) % i]);
  s.tree.build(tgt, nt, m);
  for (int64_t i : pending) {
    const uint64_t e = src[i];
    const uint64_t code = (e >> kCodeShift) & kCodeMask;
    const double ub = code != kNoNeighbour ? m.nbr[code].q : kInf;
    if (ub <= cmax) continue;
    int32_t hit = -1;
    const double d = s.tree.nearest(decode(e), std::min(ub, cap_q), cmax, &hit);
    if (d > cmax) {
      cmax = d;
      if (cmax >= cap_q) return cmax;
    }
  }
  return cmax;
}

// Every source's squared distance to the targets, in source (raster) order.
void directed_all(const uint64_t* src, int64_t ns, const uint64_t* tgt, int64_t nt, const Metric& m,
                  Scratch& s) {
  auto& out = s.values;
  out.resize(static_cast<size_t>(ns));
  bool built = false, have_last = false;
  Point last{};
  for (int64_t i = 0; i < ns; ++i) {
    const uint64_t e = src[i];
    if (e & kInOther) {
      out[i] = 0.0;
      continue;
    }
    const uint64_t code = (e >> kCodeShift) & kCodeMask;
    double ub = code != kNoNeighbour ? m.nbr[code].q : kInf;
    if (code != kNoNeighbour && ub <= m.cert_q) {
      out[i] = ub;
      continue;
    }
    const Point a = decode(e);
    // The previous source's nearest target is usually close to this one's: a tight start.
    if (have_last) ub = std::min(ub, point_q(m, a, last));
    if (!built) {
      s.tree.build(tgt, nt, m);
      built = true;
    }
    int32_t hit = -1;
    out[i] = s.tree.nearest(a, ub, -1.0, &hit);
    if (hit >= 0) {
      last = s.tree.point(hit);
      have_last = true;
    }
  }
}

// numpy's pairwise summation of float64 (8 accumulators, blocks of 128), as np.mean uses.
double numpy_pairwise_sum(const double* a, int64_t n) {
  if (n < 8) {
    double r = 0.0;
    for (int64_t i = 0; i < n; ++i) r += a[i];
    return r;
  }
  if (n <= 128) {
    double r[8];
    for (int k = 0; k < 8; ++k) r[k] = a[k];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int k = 0; k < 8; ++k) r[k] += a[i + k];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_pairwise_sum(a, n2) + numpy_pairwise_sum(a + n2, n - n2);
}

// np.mean of the distances (square roots of the squared values, in order).
double numpy_mean_distance(std::vector<double>& q) {
  for (double& v : q) v = std::sqrt(v);
  return numpy_pairwise_sum(q.data(), static_cast<int64_t>(q.size())) / static_cast<double>(q.size());
}

// np.percentile(distances, pct) with the default linear method; q holds squared distances
// (sorting them sorts the distances).
double numpy_percentile_distance(std::vector<double>& q, double pct) {
  const int64_t n = static_cast<int64_t>(q.size());
  const double vi = static_cast<double>(n - 1) * (pct / 100.0);
  if (vi >= static_cast<double>(n - 1)) return std::sqrt(*std::max_element(q.begin(), q.end()));
  const double lo = std::floor(vi);
  const int64_t i = static_cast<int64_t>(lo);
  std::nth_element(q.begin(), q.begin() + i, q.end());
  const double a = std::sqrt(q[i]);
  const double b = std::sqrt(*std::min_element(q.begin() + i + 1, q.end()));
  const double gamma = vi - lo;
  const double diff = b - a;
  return gamma >= 0.5 ? b - diff * (1.0 - gamma) : a + diff * gamma;
}

// Smallest squared value whose square root reaches the cap.
double cap_squared(double cap) {
  double q = cap * cap;
  while (std::sqrt(q) < cap) q = std::nextafter(q, kInf);
  while (q > 0.0 && std::sqrt(std::nextafter(q, 0.0)) >= cap) q = std::nextafter(q, 0.0);
  return q;
}

}  // namespace

void per_id_distances(const Buckets& b, const Metric& m, const HausdorffParams& params, double* distances) {
  const int64_t n_ids = static_cast<int64_t>(b.ids.size());
  const double cap = params.max_distance, cap_q = cap_squared(cap);
  std::vector<int64_t> order(static_cast<size_t>(n_ids));
  std::iota(order.begin(), order.end(), 0);
  auto size = [&](int64_t i) {
    return (b.offsets[0][i + 1] - b.offsets[0][i]) + (b.offsets[1][i + 1] - b.offsets[1][i]);
  };
  std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return size(x) > size(y); });
  const int nt = threads_for(n_ids, 4);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    Scratch s;
#pragma omp for schedule(dynamic, 1)
    for (int64_t k = 0; k < n_ids; ++k) {
      const int64_t i = order[k];
      auto span = [&](int kind) {
        const int64_t lo = b.offsets[kind][i];
        return std::make_pair(b.entries[kind].data() + lo, b.offsets[kind][i + 1] - lo);
      };
      const auto [a, na] = span(0);
      const auto [p, np_] = span(1);
      const auto [a_edge, na_edge] = span(2);
      const auto [p_edge, np_edge] = span(3);
      if (np_ == 0) {
        distances[i] = na == 0 ? 0.0 : cap;
        continue;
      }
      double d;
      if (params.method == HausdorffMethod::kStandard) {
        double q = directed_max(a, na, p_edge, np_edge, m, cap_q, 0.0, s);
        if (q < cap_q) q = directed_max(p, np_, a_edge, na_edge, m, cap_q, q, s);
        d = q >= cap_q ? cap : std::sqrt(q);
      } else {
        const bool mean = params.method == HausdorffMethod::kModified;
        directed_all(a, na, p_edge, np_edge, m, s);
        const double fwd = mean ? numpy_mean_distance(s.values) : numpy_percentile_distance(s.values, params.percentile);
        directed_all(p, np_, a_edge, na_edge, m, s);
        const double bwd = mean ? numpy_mean_distance(s.values) : numpy_percentile_distance(s.values, params.percentile);
        d = std::max(fwd, bwd);
      }
      distances[i] = std::min(d, cap);
    }
  }
}

}  // namespace pycsc::hd
