#include "metrics.h"

#include <cinttypes>
#include <cstdio>

namespace weft::node {

void LatencyHistogram::Record(uint64_t micros) {
  size_t i = 0;
  while (i < kBoundsMicros.size() && micros > kBoundsMicros[i]) ++i;
  ++buckets_[i];
  ++count_;
  sum_micros_ += micros;
}

uint64_t LatencyHistogram::CumulativeCount(size_t i) const {
  uint64_t n = 0;
  for (size_t k = 0; k <= i && k < buckets_.size(); ++k) n += buckets_[k];
  return n;
}

std::string FormatStatsLine(const NodeFigures& f) {
  char line[512];
  std::snprintf(line, sizeof line,
                "stats conns=%zu peers=%zu docs=%zu accepted=%" PRIu64
                " ops_per_s=%.0f dropped=%" PRIu64 " forged=%" PRIu64
                " pool_in_use=%u/%u persisted_bytes=%" PRIu64 " resident=%" PRIu64
                " resident_bytes=%" PRIu64 " evicted=%" PRIu64 " loaded=%" PRIu64 "%s",
                f.conns, f.peers, f.docs, f.accepted, f.ops_per_s, f.dropped, f.forged,
                f.pool_in_use, f.pool_capacity, f.persisted_bytes, f.resident_docs,
                f.resident_bytes, f.evicted, f.loaded, f.disk_ok ? "" : " disk=failing");
  if (!f.redis) return line;
  const redis::StoreStats& r = *f.redis;
  char more[256];
  std::snprintf(more, sizeof more,
                " redis_docs=%" PRIu64 " redis_appends=%" PRIu64 " redis_followed=%" PRIu64
                " redis_bad=%" PRIu64 " redis_reconnects=%" PRIu64 " redis_gaps=%" PRIu64
                " redis_compactions=%" PRIu64 " redis_trimmed=%" PRIu64,
                f.redis_docs, r.appends_confirmed, r.entries_followed, r.bad_entries, r.reconnects,
                r.gaps, r.compactions, r.trimmed);
  return std::string(line) + more;
}

namespace {

void Metric(std::string& out, const char* name, const char* type, const char* help, double value) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type,
                name, value);
  out += buf;
}

}  // namespace

std::string FormatMetrics(const NodeFigures& f, const LatencyHistogram& h) {
  std::string out;
  Metric(out, "weft_connections", "gauge", "Open connections, TCP and WebSocket.",
         static_cast<double>(f.conns));
  Metric(out, "weft_peers", "gauge", "Ready connections to other nodes.",
         static_cast<double>(f.peers));
  Metric(out, "weft_documents", "gauge", "Documents this node holds.", static_cast<double>(f.docs));
  Metric(out, "weft_accepted_batches_total", "counter", "Op batches accepted since start.",
         static_cast<double>(f.accepted));
  Metric(out, "weft_accepted_batches_per_second", "gauge",
         "Op batches accepted per second over the last interval.", f.ops_per_s);
  Metric(out, "weft_pool_slots_in_use", "gauge", "Frame slots in use.",
         static_cast<double>(f.pool_in_use));
  Metric(out, "weft_pool_slots", "gauge", "Frame slots in all pools.",
         static_cast<double>(f.pool_capacity));
  Metric(out, "weft_persisted_bytes_total", "counter", "Update bytes made durable since start.",
         static_cast<double>(f.persisted_bytes));
  Metric(out, "weft_disk_ok", "gauge", "1 while the op log is being written, 0 while it fails.",
         f.disk_ok ? 1 : 0);
  Metric(out, "weft_resident_documents", "gauge", "Documents in memory.",
         static_cast<double>(f.resident_docs));
  Metric(out, "weft_resident_bytes", "gauge", "Heap bytes of the replicas in memory.",
         static_cast<double>(f.resident_bytes));
  Metric(out, "weft_evicted_documents_total", "counter", "Documents evicted from memory.",
         static_cast<double>(f.evicted));
  Metric(out, "weft_loaded_documents_total", "counter", "Evicted documents loaded back.",
         static_cast<double>(f.loaded));

  const char* name = "weft_edit_to_ack_seconds";
  out += "# HELP weft_edit_to_ack_seconds Time from an op batch's arrival to its author's Ack.\n";
  out += "# TYPE weft_edit_to_ack_seconds histogram\n";
  char buf[160];
  for (size_t i = 0; i < LatencyHistogram::kBoundsMicros.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                  static_cast<double>(LatencyHistogram::kBoundsMicros[i]) / 1e6,
                  h.CumulativeCount(i));
    out += buf;
  }
  std::snprintf(buf, sizeof buf,
                "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n%s_count %" PRIu64 "\n", name,
                h.count(), name, static_cast<double>(h.sum_micros()) / 1e6, name, h.count());
  out += buf;
  return out;
}

}  // namespace weft::node
