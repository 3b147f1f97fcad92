// Optimal instance matching; see matching.hpp for the method, tie rule and complexity.
#include "matching.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace pycsc {
namespace {

using idx_t = int32_t;
constexpr int64_t kMaxEdges = int64_t{1} << 30;
constexpr int64_t kMaxCostScale = (int64_t{1} << 32) - 1;

// Dense ranks of `ids` in ascending id order; returns the sorted distinct ids.
std::vector<uint64_t> rank_ids(const uint64_t* ids, int64_t n, std::vector<idx_t>& rank) {
  rank.resize(static_cast<size_t>(n));
  std::vector<uint64_t> distinct;
  if (n == 0) return distinct;
  const uint64_t max_id = *std::max_element(ids, ids + n);
  if (max_id <= static_cast<uint64_t>(4 * n + 1024)) {
    // Small ids (the evaluator's 1..nG / 1..nP): a flat table beats sorting.
    std::vector<idx_t> table(static_cast<size_t>(max_id) + 1, -1);
    for (int64_t e = 0; e < n; ++e) table[ids[e]] = 0;
    for (uint64_t id = 0; id <= max_id; ++id) {
      if (table[id] == 0) {
        table[id] = static_cast<idx_t>(distinct.size());
        distinct.push_back(id);
      }
    }
    for (int64_t e = 0; e < n; ++e) rank[e] = table[ids[e]];
    return distinct;
  }
  distinct.assign(ids, ids + n);
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  for (int64_t e = 0; e < n; ++e)
    rank[e] = static_cast<idx_t>(std::lower_bound(distinct.begin(), distinct.end(), ids[e]) -
                                 distinct.begin());
  return distinct;
}

// Stable counting sort of `order` by key[order[k]] in [0, n_keys); also returns the offsets.
std::vector<idx_t> counting_sort(const std::vector<idx_t>& order, const std::vector<idx_t>& key,
                                 idx_t n_keys, std::vector<idx_t>* offsets) {
  std::vector<idx_t> start(static_cast<size_t>(n_keys) + 1, 0);
  for (idx_t e : order) ++start[key[e] + 1];
  for (idx_t k = 0; k < n_keys; ++k) start[k + 1] += start[k];
  std::vector<idx_t> out(order.size());
  std::vector<idx_t> next(start.begin(), start.end() - 1);
  for (idx_t e : order) out[next[key[e]]++] = e;
  if (offsets) *offsets = std::move(start);
  return out;
}

// The overlap graph as rows (truth objects, ascending id) of edges (ascending prediction id).
struct Graph {
  std::vector<uint64_t> truths, preds;  // distinct ids; index = row / column
  std::vector<idx_t> row_start;         // CSR offsets, size rows + 1
  std::vector<idx_t> adj_col;
  std::vector<uint32_t> adj_cost;       // c = int((1 - iou) * S) <= S < 2^32
  idx_t n_rows() const { return static_cast<idx_t>(truths.size()); }
  idx_t n_pred() const { return static_cast<idx_t>(preds.size()); }
};

std::string pair_text(uint64_t t, uint64_t p) {
  return "(" + std::to_string(t) + ", " + std::to_string(p) + ")";
}

[[noreturn]] void bad_iou(float x, uint64_t t, uint64_t p) {
  throw std::invalid_argument("`iou` values must be in (0, 1]; got " + std::to_string(x) +
                              " for the pair " + pair_text(t, p));
}

inline uint32_t edge_cost(const uint64_t* truth_ids, const uint64_t* pred_ids, const float* iou,
                          int64_t e, double scale) {
  const float x = iou[e];
  if (!(x > 0.0f && x <= 1.0f)) bad_iou(x, truth_ids[e], pred_ids[e]);
  // The official int((1.0 - float(iou)) * S): double arithmetic, truncation toward 0.
  return static_cast<uint32_t>((1.0 - static_cast<double>(x)) * scale);
}

Graph build_graph(const uint64_t* truth_ids, const uint64_t* pred_ids, const float* iou,
                  int64_t n, int64_t cost_scale) {
  const double scale = static_cast<double>(cost_scale);
  Graph g;
  g.preds = rank_ids(pred_ids, n, g.adj_col);
  g.adj_cost.resize(static_cast<size_t>(n));
  bool sorted = true;  // by (truth, pred), strictly: the evaluator's overlap tables are
  for (int64_t e = 1; e < n && sorted; ++e)
    sorted = truth_ids[e - 1] < truth_ids[e] ||
             (truth_ids[e - 1] == truth_ids[e] && pred_ids[e - 1] < pred_ids[e]);
  if (sorted) {
    g.truths.reserve(static_cast<size_t>(n));  // untouched capacity costs no page faults
    g.row_start.reserve(static_cast<size_t>(n) + 1);
    for (int64_t e = 0; e < n; ++e) {
      if (e == 0 || truth_ids[e] != truth_ids[e - 1]) {
        g.truths.push_back(truth_ids[e]);
        g.row_start.push_back(static_cast<idx_t>(e));
      }
      g.adj_cost[e] = edge_cost(truth_ids, pred_ids, iou, e, scale);
    }
    g.row_start.push_back(static_cast<idx_t>(n));
    return g;
  }
  std::vector<idx_t> truth_rank;
  g.truths = rank_ids(truth_ids, n, truth_rank);
  std::vector<idx_t> order(static_cast<size_t>(n));
  for (idx_t e = 0; e < static_cast<idx_t>(n); ++e) order[e] = e;
  order = counting_sort(order, g.adj_col, g.n_pred(), nullptr);
  order = counting_sort(order, truth_rank, g.n_rows(), &g.row_start);
  std::vector<idx_t> pred_rank = std::move(g.adj_col);
  g.adj_col.resize(order.size());
  for (size_t k = 0; k < order.size(); ++k) {
    g.adj_col[k] = pred_rank[order[k]];
    g.adj_cost[k] = edge_cost(truth_ids, pred_ids, iou, order[k], scale);
  }
  for (idx_t r = 0; r < g.n_rows(); ++r)
    for (idx_t k = g.row_start[r] + 1; k < g.row_start[r + 1]; ++k)
      if (g.adj_col[k] == g.adj_col[k - 1])
        throw std::invalid_argument("`truth_ids` and `pred_ids` must list each pair at most "
                                    "once; the pair " +
                                    pair_text(g.truths[r], g.preds[g.adj_col[k]]) + " repeats");
  return g;
}

// Sparse rectangular assignment. Rows are truth objects; columns 0..n_pred-1 predictions and
// n_pred + r the private "unmatched" column of row r (cost S + 1).
class Assignment {
 public:
  Assignment(const Graph& g, int64_t unmatched_cost)
      : g_(g), n_rows_(g.n_rows()), n_pred_(g.n_pred()), unmatched_cost_(unmatched_cost),
        u_(n_rows_), col4row_(n_rows_, -1),
        v_(static_cast<size_t>(n_pred_) + n_rows_, 0),
        row4col_(static_cast<size_t>(n_pred_) + n_rows_, -1),
        slot_(static_cast<size_t>(n_pred_) + n_rows_, -1) {}

  void solve() {
    greedy_start();
    for (idx_t r = n_rows_ - 1; r >= 0; --r)
      if (col4row_[r] < 0) augment_from(r);
  }

  // Column of each row: a prediction index, or >= n_pred for "unmatched".
  const std::vector<idx_t>& col4row() const { return col4row_; }
  const std::vector<idx_t>& row4col() const { return row4col_; }

 private:
  // Heap order: distance, then free columns (ends the search sooner in tied graphs), then
  // labelling order (first labelled first).
  struct Entry {
    int64_t dist;
    idx_t taken;  // 0 for a free column
    idx_t slot;
    bool operator>(const Entry& o) const {
      if (dist != o.dist) return dist > o.dist;
      return taken != o.taken ? taken > o.taken : slot > o.slot;
    }
  };
  // Search state of one column touched by the current Dijkstra (dense arrays would cost a
  // page-faulting allocation of ~20 bytes per column for a search that touches a handful).
  struct Label {
    idx_t col, row;  // row = predecessor on the shortest path
    int64_t dist;
    bool scanned;
  };

  // u_r = cheapest edge of r, v = 0: dual feasible, and a row whose cheapest prediction is
  // still free takes it (tight). Rows are visited in descending id (in tie-rich tests this
  // agrees with OR-Tools' choices more often than ascending order), edges in ascending pred id.
  void greedy_start() {
    for (idx_t r = n_rows_ - 1; r >= 0; --r) {
      int64_t best = unmatched_cost_;
      idx_t best_col = n_pred_ + r;
      for (idx_t k = g_.row_start[r]; k < g_.row_start[r + 1]; ++k) {
        if (g_.adj_cost[k] < best) {
          best = g_.adj_cost[k];
          best_col = g_.adj_col[k];
        }
      }
      u_[r] = best;
      if (row4col_[best_col] < 0) {
        row4col_[best_col] = r;
        col4row_[r] = best_col;
      }
    }
  }

  void relax(idx_t col, idx_t row, int64_t d) {
    idx_t s = slot_[col];
    if (s < 0) {
      s = slot_[col] = static_cast<idx_t>(labels_.size());
      labels_.push_back({col, row, d, false});
    } else if (labels_[s].scanned || d >= labels_[s].dist) {
      return;
    } else {
      // Re-labelled: a fresh slot keeps "first labelled first" meaning "labelled at this
      // distance first"; the stale entry is skipped when popped.
      labels_[s].scanned = true;
      s = slot_[col] = static_cast<idx_t>(labels_.size());
      labels_.push_back({col, row, d, false});
    }
    heap_.push_back({d, row4col_[col] < 0 ? 0 : 1, s});
    std::push_heap(heap_.begin(), heap_.end(), std::greater<Entry>());
  }

  // One shortest augmenting path from the unassigned row `cur` to the nearest free column.
  void augment_from(idx_t cur) {
    int64_t min_val = 0;
    idx_t row = cur, sink = -1;
    while (sink < 0) {
      scanned_rows_.push_back(row);
      const int64_t base = min_val - u_[row];
      for (idx_t k = g_.row_start[row]; k < g_.row_start[row + 1]; ++k)
        relax(g_.adj_col[k], row, base + g_.adj_cost[k] - v_[g_.adj_col[k]]);
      relax(n_pred_ + row, row, base + unmatched_cost_ - v_[n_pred_ + row]);
      // The private column of `cur` is free and labelled, so the heap cannot run dry.
      Entry top;
      do {
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<Entry>());
        top = heap_.back();
        heap_.pop_back();
      } while (labels_[top.slot].scanned);
      Label& label = labels_[top.slot];
      label.scanned = true;
      scanned_cols_.push_back(top.slot);
      min_val = label.dist;
      if (row4col_[label.col] < 0) sink = label.col;
      else row = row4col_[label.col];
    }
    // Potentials: keep matched edges tight and reduced costs >= 0 (Crouse 2016, eq. 12-13).
    for (idx_t r : scanned_rows_)
      u_[r] += (r == cur) ? min_val : min_val - labels_[slot_[col4row_[r]]].dist;
    for (idx_t s : scanned_cols_) v_[labels_[s].col] -= min_val - labels_[s].dist;
    for (idx_t col = sink;;) {
      const idx_t r = labels_[slot_[col]].row;
      row4col_[col] = r;
      const idx_t previous = col4row_[r];
      col4row_[r] = col;
      if (r == cur) break;
      col = previous;
    }
    for (const Label& label : labels_) slot_[label.col] = -1;
    labels_.clear();
    scanned_rows_.clear();
    scanned_cols_.clear();
    heap_.clear();
  }

  const Graph& g_;
  const idx_t n_rows_, n_pred_;
  const int64_t unmatched_cost_;
  std::vector<int64_t> u_;
  std::vector<idx_t> col4row_;
  std::vector<int64_t> v_;
  std::vector<idx_t> row4col_, slot_;
  std::vector<Label> labels_;
  std::vector<idx_t> scanned_rows_, scanned_cols_;
  std::vector<Entry> heap_;
};

}  // namespace

MatchingResult optimal_matching(const uint64_t* truth_ids, const uint64_t* pred_ids,
                                const float* iou, int64_t n_edges, int64_t cost_scale) {
  if (cost_scale < 1 || cost_scale > kMaxCostScale)
    throw std::invalid_argument("`cost_scale` must be in [1, 2**32 - 1]; got " +
                                std::to_string(cost_scale));
  if (n_edges < 0 || n_edges > kMaxEdges)
    throw std::invalid_argument("at most 2**30 edges are supported; got " +
                                std::to_string(n_edges));
  const Graph g = build_graph(truth_ids, pred_ids, iou, n_edges, cost_scale);
  const int64_t unmatched_cost = cost_scale + 1;
  // Potentials and path lengths stay within (nodes of a component) * (S + 1) in magnitude;
  // refuse inputs where that bound could leave int64 rather than risk an inexact answer.
  const double nodes = static_cast<double>(g.n_rows()) * 2 + static_cast<double>(g.n_pred());
  if (nodes * static_cast<double>(unmatched_cost) > 0x1p61)
    throw std::invalid_argument("`cost_scale` " + std::to_string(cost_scale) +
                                " is too large for exact int64 arithmetic on " +
                                std::to_string(n_edges) + " edges; use a smaller cost_scale");
  Assignment assignment(g, unmatched_cost);
  assignment.solve();

  MatchingResult result;
  const auto& col4row = assignment.col4row();
  size_t n_matched = 0;
  for (idx_t r = 0; r < g.n_rows(); ++r) {
    const idx_t c = col4row[r];
    if (c >= g.n_pred()) {
      result.cost += unmatched_cost;
      continue;
    }
    ++n_matched;
    for (idx_t k = g.row_start[r]; k < g.row_start[r + 1]; ++k)
      if (g.adj_col[k] == c) result.cost += g.adj_cost[k];
  }
  result.truth_ids.reserve(n_matched);
  result.pred_ids.reserve(n_matched);
  const auto& row4col = assignment.row4col();
  for (idx_t c = 0; c < g.n_pred(); ++c) {
    if (row4col[c] < 0) continue;
    result.truth_ids.push_back(g.truths[row4col[c]]);
    result.pred_ids.push_back(g.preds[c]);
  }
  return result;
}

}  // namespace pycsc
