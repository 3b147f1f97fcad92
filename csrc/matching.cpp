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
constexpr int64_t kInf = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxEdges = int64_t{1} << 30;
constexpr int64_t kMaxCostScale = int64_t{1} << 32;

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

// Sparse rectangular assignment. Rows are truth objects; columns 0..n_pred-1 predictions and
// n_pred + r the private "unmatched" column of row r (cost S + 1).
class Assignment {
 public:
  Assignment(idx_t n_rows, idx_t n_pred, const std::vector<idx_t>& row_start,
             const std::vector<idx_t>& adj_col, const std::vector<int64_t>& adj_cost,
             int64_t unmatched_cost)
      : n_rows_(n_rows), n_pred_(n_pred), row_start_(row_start), adj_col_(adj_col),
        adj_cost_(adj_cost), unmatched_cost_(unmatched_cost),
        u_(n_rows, 0), v_(static_cast<size_t>(n_pred) + n_rows, 0),
        col4row_(n_rows, -1), row4col_(static_cast<size_t>(n_pred) + n_rows, -1),
        dist_(static_cast<size_t>(n_pred) + n_rows, kInf),
        label_(static_cast<size_t>(n_pred) + n_rows, 0),
        path_(static_cast<size_t>(n_pred) + n_rows, -1),
        scanned_(static_cast<size_t>(n_pred) + n_rows, 0) {}

  void solve() {
    greedy_start();
    for (idx_t r = 0; r < n_rows_; ++r)
      if (col4row_[r] < 0) augment_from(r);
  }

  // Column of each row: a prediction index, or >= n_pred for "unmatched".
  const std::vector<idx_t>& col4row() const { return col4row_; }
  const std::vector<idx_t>& row4col() const { return row4col_; }

 private:
  struct Entry {
    int64_t dist;
    int64_t label;  // labelling order: equal distances settle first-labelled first
    idx_t col;
    bool operator>(const Entry& o) const {
      return dist != o.dist ? dist > o.dist : label > o.label;
    }
  };

  // u_r = cheapest edge of r, v = 0: dual feasible, and a row whose cheapest prediction is
  // still free takes it (tight). Rows are visited in ascending id, edges in ascending pred id.
  void greedy_start() {
    for (idx_t r = 0; r < n_rows_; ++r) {
      int64_t best = unmatched_cost_;
      idx_t best_col = n_pred_ + r;
      for (idx_t k = row_start_[r]; k < row_start_[r + 1]; ++k) {
        if (adj_cost_[k] < best) {
          best = adj_cost_[k];
          best_col = adj_col_[k];
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
    if (scanned_[col] || d >= dist_[col]) return;
    if (dist_[col] == kInf) touched_.push_back(col);
    dist_[col] = d;
    path_[col] = row;
    label_[col] = next_label_;
    heap_.push_back({d, next_label_++, col});
    std::push_heap(heap_.begin(), heap_.end(), std::greater<Entry>());
  }

  // One shortest augmenting path from the unassigned row `cur` to the nearest free column.
  void augment_from(idx_t cur) {
    int64_t min_val = 0;
    idx_t row = cur, sink = -1;
    next_label_ = 0;
    while (sink < 0) {
      scanned_rows_.push_back(row);
      const int64_t base = min_val - u_[row];
      for (idx_t k = row_start_[row]; k < row_start_[row + 1]; ++k)
        relax(adj_col_[k], row, base + adj_cost_[k] - v_[adj_col_[k]]);
      relax(n_pred_ + row, row, base + unmatched_cost_ - v_[n_pred_ + row]);
      // The private column of `cur` is free and labelled, so the heap cannot run dry.
      Entry top;
      do {
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<Entry>());
        top = heap_.back();
        heap_.pop_back();
      } while (scanned_[top.col] || top.label != label_[top.col]);
      min_val = top.dist;
      scanned_[top.col] = 1;
      scanned_cols_.push_back(top.col);
      if (row4col_[top.col] < 0) sink = top.col;
      else row = row4col_[top.col];
    }
    // Potentials: keep matched edges tight and reduced costs >= 0 (Crouse 2016, eq. 12-13).
    for (idx_t r : scanned_rows_)
      u_[r] += (r == cur) ? min_val : min_val - dist_[col4row_[r]];
    for (idx_t c : scanned_cols_) v_[c] -= min_val - dist_[c];
    for (idx_t col = sink;;) {
      const idx_t r = path_[col];
      row4col_[col] = r;
      const idx_t previous = col4row_[r];
      col4row_[r] = col;
      if (r == cur) break;
      col = previous;
    }
    for (idx_t c : touched_) {
      dist_[c] = kInf;
      scanned_[c] = 0;
    }
    touched_.clear();
    scanned_rows_.clear();
    scanned_cols_.clear();
    heap_.clear();
  }

  const idx_t n_rows_, n_pred_;
  const std::vector<idx_t>& row_start_;
  const std::vector<idx_t>& adj_col_;
  const std::vector<int64_t>& adj_cost_;
  const int64_t unmatched_cost_;
  std::vector<int64_t> u_, v_;
  std::vector<idx_t> col4row_, row4col_;
  std::vector<int64_t> dist_, label_;
  std::vector<idx_t> path_;
  std::vector<uint8_t> scanned_;
  std::vector<idx_t> touched_, scanned_rows_, scanned_cols_;
  std::vector<Entry> heap_;
  int64_t next_label_ = 0;
};

std::string pair_text(uint64_t t, uint64_t p) {
  return "(" + std::to_string(t) + ", " + std::to_string(p) + ")";
}

}  // namespace

MatchingResult optimal_matching(const uint64_t* truth_ids, const uint64_t* pred_ids,
                                const float* iou, int64_t n_edges, int64_t cost_scale) {
  if (cost_scale < 1 || cost_scale > kMaxCostScale)
    throw std::invalid_argument("`cost_scale` must be in [1, 2**32]; got " +
                                std::to_string(cost_scale));
  if (n_edges < 0 || n_edges > kMaxEdges)
    throw std::invalid_argument("at most 2**30 edges are supported; got " +
                                std::to_string(n_edges));
  const double scale = static_cast<double>(cost_scale);
  std::vector<int64_t> cost(static_cast<size_t>(n_edges));
  for (int64_t e = 0; e < n_edges; ++e) {
    const float x = iou[e];
    if (!(x > 0.0f && x <= 1.0f))
      throw std::invalid_argument("`iou` values must be in (0, 1]; got " + std::to_string(x) +
                                  " for the pair " + pair_text(truth_ids[e], pred_ids[e]));
    // The official int((1.0 - float(iou)) * S): double arithmetic, truncation toward 0.
    cost[e] = static_cast<int64_t>((1.0 - static_cast<double>(x)) * scale);
  }

  std::vector<idx_t> truth_rank, pred_rank;
  const std::vector<uint64_t> truths = rank_ids(truth_ids, n_edges, truth_rank);
  const std::vector<uint64_t> preds = rank_ids(pred_ids, n_edges, pred_rank);
  const auto n_rows = static_cast<idx_t>(truths.size());
  const auto n_pred = static_cast<idx_t>(preds.size());

  // Rows in ascending truth id, each row's edges in ascending prediction id.
  std::vector<idx_t> order(static_cast<size_t>(n_edges));
  for (idx_t e = 0; e < static_cast<idx_t>(n_edges); ++e) order[e] = e;
  order = counting_sort(order, pred_rank, n_pred, nullptr);
  std::vector<idx_t> row_start;
  order = counting_sort(order, truth_rank, n_rows, &row_start);
  std::vector<idx_t> adj_col(order.size());
  std::vector<int64_t> adj_cost(order.size());
  for (size_t k = 0; k < order.size(); ++k) {
    adj_col[k] = pred_rank[order[k]];
    adj_cost[k] = cost[order[k]];
  }
  for (idx_t r = 0; r < n_rows; ++r)
    for (idx_t k = row_start[r] + 1; k < row_start[r + 1]; ++k)
      if (adj_col[k] == adj_col[k - 1])
        throw std::invalid_argument("`truth_ids` and `pred_ids` must list each pair at most "
                                    "once; the pair " + pair_text(truths[r], preds[adj_col[k]]) +
                                    " repeats");

  const int64_t unmatched_cost = cost_scale + 1;
  Assignment assignment(n_rows, n_pred, row_start, adj_col, adj_cost, unmatched_cost);
  assignment.solve();

  MatchingResult result;
  const auto& row4col = assignment.row4col();
  for (idx_t c = 0; c < n_pred; ++c) {
    const idx_t r = row4col[c];
    if (r < 0) continue;
    result.truth_ids.push_back(truths[r]);
    result.pred_ids.push_back(preds[c]);
  }
  const auto& col4row = assignment.col4row();
  for (idx_t r = 0; r < n_rows; ++r) {
    const idx_t c = col4row[r];
    if (c >= n_pred) {
      result.cost += unmatched_cost;
      continue;
    }
    for (idx_t k = row_start[r]; k < row_start[r + 1]; ++k)
      if (adj_col[k] == c) result.cost += adj_cost[k];
  }
  return result;
}

}  // namespace pycsc
