// Rotation soak of the file source: a writer appends numbered lines as fast as it can while the log is
// rotated three dozen times at random moments, by rename (the writer reopens its path a moment later, as a
// daemon does on SIGHUP) or by copytruncate (the writer paused around the copy and the truncation, so no line
// falls between them), with the rotated names matched by the pattern (app.log*) and kept three deep; the
// pipeline is now and then full for a while (back-pressure); half-way the source is stopped, the log rotated
// once more while it is down, and a new source resumes from the checkpoints the first one left. In the end
// every line written must have been read exactly once.
//
// The moments are random: SOCD_ROTATION_SEED=N repeats a run (the seed is printed).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "socd/file_source.h"
#include "support/file_source_support.h"

namespace socd {
namespace {

using namespace file_test;

// Shifts app.log.2 to .3 and .1 to .2 (the old .3 is deleted by the rename over it).
void shift_rotated(const std::string& path) {
  if (fs::exists(path + ".2")) fs::rename(path + ".2", path + ".3");
  if (fs::exists(path + ".1")) fs::rename(path + ".1", path + ".2");
}

TEST(FileRotationSoak, EveryLineOnceThroughRenamesCopytruncatesBackPressureAndARestart) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("SOCD_ROTATION_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::cout << "SOCD_ROTATION_SEED=" << seed << "\n";
  std::mt19937_64 random(seed);
  auto chance = [&](int percent) { return static_cast<int>(random() % 100) < percent; };
  auto between = [&](int lo, int hi) {
    return std::chrono::milliseconds(lo + static_cast<int>(random() % static_cast<uint64_t>(hi - lo)));
  };

  TempDir dir;
  std::string path = dir / "app.log";
  append(path, "");
  CollectingSink sink;
  auto options = quick({path + "*"});
  options.rotate_wait_ms = 300;
  auto source = started(options, sink);
  ASSERT_TRUE(source);
  Writer writer(path);
  int renames = 0, copytruncates = 0;

  auto rotate = [&] {
    std::this_thread::sleep_for(between(20, 120));
    ASSERT_TRUE(writer.wrote(50));
    bool full = chance(30);
    if (full) sink.set_full(true);  // the source stops reading; the writer goes on
    if (chance(50)) {
      shift_rotated(path);
      fs::rename(path, path + ".1");
      std::this_thread::sleep_for(between(1, 20));  // lines still written to the renamed file
      ASSERT_TRUE(writer.reopen());
      ++renames;
    } else {
      std::lock_guard<std::mutex> paused(writer.pause);
      shift_rotated(path);
      copy_truncate(path);
      ++copytruncates;
    }
    if (full) {
      std::this_thread::sleep_for(between(10, 80));
      sink.set_full(false);
    }
  };

  for (int r = 0; r < 18; ++r) {
    rotate();
    if (HasFatalFailure()) return;
  }
  {
    // Stop once every line written so far was read and no copy awaits its original: what the first source
    // pushed was stored, so the second resumes right after it.
    std::lock_guard<std::mutex> paused(writer.pause);
    bool caught_up = wait_for([&] {
      bool settled = true;
      for (const auto& f : source->files()) settled &= !f.copy_pending;
      return settled && sink.line_count() == static_cast<size_t>(writer.written());
    });
    if (!caught_up) {
      ADD_FAILURE() << "the first source did not catch up with the writer";
      expect_each_line_once(sink, writer.written());  // says which lines went wrong
      return;
    }
    source->stop();
  }
  ASSERT_TRUE(writer.wrote(50));
  shift_rotated(path);
  fs::rename(path, path + ".1");  // rotated while no source runs
  ASSERT_TRUE(writer.reopen());
  ASSERT_TRUE(writer.wrote(50));
  source = started(options, sink);
  ASSERT_TRUE(source);
  for (int r = 0; r < 18; ++r) {
    rotate();
    if (HasFatalFailure()) return;
  }
  std::this_thread::sleep_for(50ms);
  writer.finish();
  int written = writer.written();
  EXPECT_TRUE(wait_for([&] { return sink.line_count() >= static_cast<size_t>(written); }, 10s));
  std::this_thread::sleep_for(100ms);
  std::cout << written << " lines, " << renames << " renames, " << copytruncates << " copytruncates\n";
  expect_each_line_once(sink, written);
}

}  // namespace
}  // namespace socd
