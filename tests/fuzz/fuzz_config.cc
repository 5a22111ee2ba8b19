// Configuration parsers. The first byte picks one, the rest is the file:
//   R  `socd run --config FILE` (Boost.Program_options config file; its options parsed and checked as `socd run`
//      does, nothing started)
//   T  thresholds (parse_stage_config)        A  assets (AssetInventory::parse)
//   O  routing (Routing::parse)               F  forwarding (load_forwarding)
//   I  incidents (parse_incident_settings)    M  field mappings (parse_field_mapping)
//   S  Sagan YAML (load_sagan_variables)
// Any other first byte picks by its value modulo 8. A parser may refuse a file (an error naming the file);
// it must not crash, leak or throw.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "cli.h"
#include "forward.h"
#include "fuzz_support.h"
#include "socd/assets.h"
#include "socd/incidents.h"
#include "socd/routing.h"
#include "socd/sagan.h"
#include "socd/sigma.h"
#include "socd/stateful.h"

namespace {

// Parsers that read a path get the input through a file of this process, in memory when /dev/shm is there.
const std::string& scratch_path() {
  static const std::string* path = new std::string(
      std::string(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/socd-fuzz-config-" +
      std::to_string(::getpid()));
  return *path;
}

// The file is opened once and rewritten in place (truncated, then written): creating a file on disk for every
// input made each one wait on the file system.
void write_scratch(const std::string& text) {
  static const int fd = ::open(scratch_path().c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    socd::fuzz::fail("cannot write the scratch file", scratch_path());
}

template <class T>
void expect_named_error(const socd::Expected<T>& result, const std::string& file) {
  if (result.ok()) return;
  socd::fuzz::check(result.error().message().find(file) != std::string::npos, "an error does not name the file",
                    result.error().message());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char kinds[] = "RTAOFIMS";
  char kind = static_cast<char>(data[0]);
  if (std::string_view(kinds, 8).find(kind) == std::string_view::npos) kind = kinds[data[0] % 8];
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (kind) {
    case 'R': {
      write_scratch(text);
      std::string a0 = "socd-run", a1 = "--config", a2 = scratch_path();
      char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};
      int status = socd::cli::check_run_options(3, argv);
      socd::fuzz::check(status == socd::cli::kOk || status == socd::cli::kUsageError,
                        "socd run --config: an exit status other than 0 or 2");
      break;
    }
    case 'T': expect_named_error(socd::parse_stage_config("thresholds.yml", text), "thresholds.yml"); break;
    case 'A': expect_named_error(socd::AssetInventory::parse("assets.yml", text), "assets.yml"); break;
    case 'O': expect_named_error(socd::Routing::parse("routing.yml", text), "routing.yml"); break;
    case 'F': {
      write_scratch(text);
      expect_named_error(socd::load_forwarding(scratch_path()), scratch_path());
      break;
    }
    case 'I': expect_named_error(socd::parse_incident_settings("incidents.yml", text), "incidents.yml"); break;
    case 'M': expect_named_error(socd::parse_field_mapping("mappings.yml", text), "mappings.yml"); break;
    case 'S': {
      write_scratch(text);
      expect_named_error(socd::load_sagan_variables(scratch_path()), scratch_path());
      break;
    }
  }
  return 0;
}
