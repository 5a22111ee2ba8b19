// Prometheus metrics of `socd run`, read at scrape time from the counters the pipeline and sources keep (nothing
// is counted twice, and the hot path only bumps atomics).
#pragma once
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <memory>
#include <string>

#include "pipeline.h"
#include "socd/status.h"

namespace socd {

class Forwarder;  // forward.h

// What the run loop knows besides the pipeline (rule reloads).
struct RunInfo {
  Ledger* ledger = nullptr;  // incidents (overdue deadlines), when the store keeps them
  Forwarder* forwarder = nullptr;  // layer-4 forwarding, when configured
  std::atomic<double> compile_seconds{0};
  std::atomic<uint64_t> rules_loaded{0}, rules_skipped{0}, reloads{0}, reload_failures{0};
  std::atomic<uint64_t> rules_over_limits{0};  // of the skipped rules, those left out by a compile-time limit
  AlertStore* store = nullptr;                 // for the dead letters' gauges, when the store keeps them
};

class PipelineCollector : public prometheus::Collectable {
public:
  PipelineCollector(const Pipeline& pipeline, const RunInfo& info) : pipeline_(pipeline), info_(info) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

private:
  void append_limit_metrics(std::vector<prometheus::MetricFamily>& out) const;
  const Pipeline& pipeline_;
  const RunInfo& info_;
};

// Serves /metrics on `address` ("127.0.0.1:9464", "[::1]:9464", ":9464" for every address).
class MetricsServer {
public:
  static Expected<std::unique_ptr<MetricsServer>> start(const std::string& address, const Pipeline& pipeline,
                                                        const RunInfo& info);

private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<PipelineCollector> collector_;
};

}  // namespace socd
