// A source reading newline-delimited lines from an already open descriptor (standard input, a pipe) to its end.
#pragma once
#include <memory>
#include <string>
#include <thread>

#include "socd/source.h"

namespace socd {

struct StreamSourceOptions {
  size_t batch_bytes = 1 << 20, batch_lines = 4096, max_line_bytes = 4 << 20;
};

class StreamSource : public Source {
public:
  // Reads `fd` (not owned) under the name `name` ("stdin").
  StreamSource(int fd, std::string name, StreamSourceOptions options = {});
  ~StreamSource() override;
  std::string name() const override { return name_; }
  Status start(BatchSink& sink) override;
  void stop() override;
  // True once the whole input was read and pushed.
  bool done() const { return done_.load(); }

private:
  int fd_;
  std::string name_;
  StreamSourceOptions options_;
  std::thread thread_;
  std::atomic<bool> stop_{false}, done_{false};
};

}  // namespace socd
