#include "socd/file_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/file_source_support.h"

namespace socd {
namespace {

using namespace file_test;
using namespace std::chrono_literals;

TEST(FileSource, ReadsAFileWholeWithNumbersPositionsAndItsLastPartialLine) {
  TempDir dir;
  std::string body = numbered("line", 0, 1000) + "last\r\nno newline";
  append(dir / "a.log", body);
  CollectingSink sink;
  auto options = quick({dir / "*.log"}, false);
  options.batch_lines = 64;
  auto source = started(options, sink);
  ASSERT_TRUE(source);
  ASSERT_TRUE(source->wait_done(5000));
  auto lines = sink.lines();
  ASSERT_EQ(lines.size(), 1002u);
  uint64_t pos = 0;
  for (size_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(lines[i].text, "line " + std::to_string(i) + " some text of the event");
    EXPECT_EQ(lines[i].number, i + 1);
    EXPECT_EQ(lines[i].position, pos);
    EXPECT_EQ(lines[i].origin, dir / "a.log");
    pos += lines[i].text.size() + 1;
  }
  EXPECT_EQ(lines[1000].text, "last");  // CR dropped
  EXPECT_EQ(lines[1001].text, "no newline");
  EXPECT_EQ(lines[1001].position, body.size() - 10);
  EXPECT_EQ(source->counters().lines.load(), 1002u);
  EXPECT_EQ(source->counters().bytes.load(), body.size());
  // The last checkpoint is after the partial line.
  auto stored = sink.stored();
  ASSERT_EQ(stored.size(), 1u);
  auto c = decode_file_checkpoint(stored.begin()->second);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->offset, body.size());
  EXPECT_EQ(c->line, 1002u);
  EXPECT_EQ(c->fingerprint_length, 1024u);
  EXPECT_EQ(c->fingerprint, fingerprint_bytes(std::string_view(body).substr(0, 1024)));
  EXPECT_EQ(c->stream, lines[0].stream);
  struct stat st;
  ASSERT_EQ(::stat((dir / "a.log").c_str(), &st), 0);
  EXPECT_EQ(stored.begin()->first, file_checkpoint_key(st.st_dev, st.st_ino));
  EXPECT_EQ(c->stream.rfind(stored.begin()->first + ":", 0), 0u) << c->stream;
  EXPECT_TRUE(source->files().empty());  // closed once done
  if (pulling()) {
    EXPECT_GE(sink.pulled_batches(), 12) << "read by the sink's thread (16 batches of 64 lines)";
  }
}

// The anchor of a stream is where this run began reading it: stored alone (the stateful stage holds the
// checkpoints back), it makes a restart read the file again from there under the same stream, so the lines
// keep their positions and their alerts their ids.
TEST(FileSource, TheAnchorOfAStreamIsWhereThisRunBeganReadingIt) {
  TempDir dir;
  std::string path = dir / "app.log";
  append(path, numbered("event", 0, 50));
  CollectingSink first;
  first.set_store_limit(0);  // nothing of the first run is stored but the anchors
  auto options = quick({path}, false);
  options.batch_lines = 10;
  auto a = started(options, first);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->wait_done(5000));
  auto before = first.lines();
  ASSERT_EQ(before.size(), 50u);
  auto anchors = first.anchors();
  ASSERT_EQ(anchors.size(), 1u);
  auto anchor = decode_file_checkpoint(anchors.begin()->second);
  ASSERT_TRUE(anchor.ok()) << anchor.error().message();
  EXPECT_EQ(anchor->offset, 0u);
  EXPECT_EQ(anchor->line, 0u);
  EXPECT_EQ(anchor->stream, before[0].stream);

  CollectingSink second;  // a restart that finds only the anchor
  second.set_stored(anchors);
  auto b = started(options, second);
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->wait_done(5000));
  auto after = second.lines();
  ASSERT_EQ(after.size(), 50u);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].position, before[i].position);
    EXPECT_EQ(after[i].stream, before[i].stream);
  }
  // Resumed from a checkpoint, the stream's anchor is that checkpoint's place.
  CollectingSink third;
  third.set_stored(second.stored());
  append(path, numbered("event", 50, 55));
  auto c = started(options, third);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->wait_done(5000));
  ASSERT_EQ(third.line_count(), 5u);
  auto resumed = decode_file_checkpoint(third.anchors().begin()->second);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->line, 50u);
  EXPECT_EQ(resumed->offset, numbered("event", 0, 50).size());
  EXPECT_EQ(resumed->stream, before[0].stream);
}

TEST(FileSource, StoppingWhileTheSinkHoldsABacklogTakesItBackAndPassesOnWhatWasRead) {
  TempDir dir;
  append(dir / "a.log", numbered("line", 0, 100000));
  CollectingSink sink;
  sink.set_pull(true);
  sink.set_full_after(20);  // then the sink's thread stops reading: the source waits on the backlog it lent
  auto options = quick({dir / "*.log"});
  options.batch_bytes = 512;
  auto source = started(options, sink);
  ASSERT_TRUE(source);
  ASSERT_TRUE(wait_for([&] { return sink.full(); }));
  std::this_thread::sleep_for(50ms);
  auto t0 = std::chrono::steady_clock::now();
  std::thread stopper([&] { source->stop(); });
  std::this_thread::sleep_for(200ms);
  sink.set_full_after(0);
  sink.set_full(false);  // room for what the source passes on as it stops
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_GT(sink.pulled_batches(), 0);
  // What was read went on once, in order, and the checkpoint stands right after it.
  auto lines = sink.lines();
  ASSERT_GT(lines.size(), 100u);
  ASSERT_LT(lines.size(), 100000u) << "stopped before the end";
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(lines[i].number, i + 1);
    ASSERT_EQ(lines[i].text, "line " + std::to_string(i) + " some text of the event");
  }
  auto stored = sink.stored();
  ASSERT_EQ(stored.size(), 1u);
  auto c = decode_file_checkpoint(stored.begin()->second);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->line, lines.size());
  EXPECT_EQ(c->offset, lines.back().position + lines.back().text.size() + 1);
}

TEST(FileSource, FollowsAppendsAndHoldsAPartialLineUntilItsNewline) {
  TempDir dir;
  std::string path = dir / "app.log";
  append(path, "one\ntwo\n");
  CollectingSink sink;
  auto source = started(quick({path}), sink);
  ASSERT_TRUE(source);
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 2; }));
  append(path, "three\npar");
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 3; }));
  std::this_thread::sleep_for(60ms);  // several polls: the partial line is not passed on
  EXPECT_EQ(sink.line_count(), 3u);
  append(path, "tial\n");
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 4; }));
  auto lines = sink.lines();
  EXPECT_EQ(lines[3].text, "partial");
  EXPECT_EQ(lines[3].number, 4u);
  EXPECT_EQ(lines[3].position, 14u);
  auto files = source->files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].offset, 22u);
  EXPECT_EQ(files[0].path, path);
  source->stop();
  source->stop();  // twice is fine
}

TEST(FileSource, OversizedLinesArePassedOnAsTheirHeadAndLength) {
  TempDir dir;
  std::string path = dir / "big.log";
  append(path, "a\n" + std::string(3000, 'x'));  // the oversized line arrives in pieces
  CollectingSink sink;
  auto options = quick({path});
  options.max_line_bytes = 1000;
  auto source = started(options, sink);
  ASSERT_TRUE(source);
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 1; }));
  std::this_thread::sleep_for(30ms);
  append(path, std::string(2000, 'y'));
  std::this_thread::sleep_for(30ms);
  append(path, "z\nb\n" + std::string(1500, 'w') + "\nc\n");  // one more oversized line, whole in one read
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 5; }));
  auto lines = sink.lines();
  EXPECT_TRUE(lines[1].oversized);
  EXPECT_EQ(lines[1].full_length, 5001u);
  EXPECT_EQ(lines[1].text, std::string(256, 'x'));
  EXPECT_EQ(lines[1].position, 2u);
  EXPECT_EQ(lines[2].text, "b");
  EXPECT_EQ(lines[2].position, 5004u);
  EXPECT_EQ(lines[2].number, 3u);
  EXPECT_TRUE(lines[3].oversized);
  EXPECT_EQ(lines[3].full_length, 1500u);
  EXPECT_EQ(lines[4].text, "c");
  EXPECT_EQ(lines[4].position, 5006u + 1501u);
  EXPECT_EQ(source->counters().oversized.load(), 2u);
}

TEST(FileSource, NewFilesArePickedUpAndCompressedOnesLeftOut) {
  TempDir dir;
  append(dir / "a.log", "a1\n");
  CollectingSink sink;
  auto options = quick({dir / "*.log*"});
  options.from_beginning = false;  // applies to a.log only: b.log is created while the source runs
  auto source = started(options, sink);
  ASSERT_TRUE(source);
  append(dir / "a.log", "a2\n");
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 1; }));
  append(dir / "b.log", "b1\nb2\n");
  append(dir / "c.log.2.gz", std::string("\x1f\x8b\x08\nbinary\n", 12));
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 3; }));
  std::this_thread::sleep_for(50ms);
  auto lines = sink.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].text, "a2");
  EXPECT_EQ(lines[0].number, 2u);  // counted, though started at the end
  EXPECT_EQ(lines[0].position, 3u);
  EXPECT_EQ(lines[1].text, "b1");
  EXPECT_EQ(lines[1].number, 1u);
  EXPECT_EQ(lines[2].text, "b2");
  EXPECT_EQ(lines[1].origin, dir / "b.log");
  EXPECT_EQ(source->files().size(), 2u);
}

TEST(FileSource, APatternMatchingNothingYetThenAFileAppears) {
  TempDir dir;
  CollectingSink sink;
  auto source = started(quick({dir / "later/*.jsonl"}), sink);
  ASSERT_TRUE(source);
  std::this_thread::sleep_for(40ms);
  EXPECT_TRUE(source->files().empty());
  fs::create_directory(dir / "later");
  append(dir / "later/x.jsonl", "{\"a\":1}\n{\"a\":2}\n");
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 2; }));
  EXPECT_EQ(sink.texts()[1], "{\"a\":2}");
}

TEST(FileSource, DeletedFileIsReadToItsEndThenClosed) {
  TempDir dir;
  std::string path = dir / "gone.log";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "x1\n", 3), 3);
  CollectingSink sink;
  auto source = started(quick({path}), sink);
  ASSERT_TRUE(source);
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 1; }));
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::write(fd, "x2\nx3", 5), 5);  // the writer goes on a moment, and its last line lacks a newline
  ::close(fd);
  ASSERT_TRUE(wait_for([&] { return source->files().empty(); }));
  EXPECT_EQ(sink.texts(), (std::vector<std::string>{"x1", "x2", "x3"}));
}

// Parameter: the pattern matches the rotated names too.
class Rotation : public ::testing::TestWithParam<bool> {};

TEST_P(Rotation, ByRenameWhileWritingLosesAndDoublesNothing) {
  TempDir dir;
  std::string path = dir / "auth.log";
  append(path, "");
  CollectingSink sink;
  auto source = started(quick({GetParam() ? path + "*" : path}), sink);
  ASSERT_TRUE(source);
  Writer writer(path);
  for (int r = 0; r < 3; ++r) {
    std::this_thread::sleep_for(80ms);
    ASSERT_TRUE(writer.wrote(100));
    rotate_by_rename(path, writer);
  }
  std::this_thread::sleep_for(80ms);
  ASSERT_TRUE(writer.wrote(100));
  writer.finish();
  int written = writer.written();
  EXPECT_TRUE(wait_for([&] { return sink.line_count() >= static_cast<size_t>(written); }));
  std::this_thread::sleep_for(50ms);
  expect_each_line_once(sink, written);
  // The renamed files are not followed twice: under the wide pattern they stay followed under their new
  // names.
  std::set<std::string> streams;
  for (const auto& l : sink.lines()) streams.insert(l.stream);
  EXPECT_EQ(streams.size(), 4u);
  // Wide pattern: auth.log, .1 and .2 (the first file was deleted when .1 was renamed over .2). Live path
  // only: the renamed files are closed once quiet.
  size_t expected_files = GetParam() ? 3 : 1;
  EXPECT_TRUE(wait_for([&] { return source->files().size() == expected_files; })) << [&] {
    std::string out = "followed:";
    for (const auto& f : source->files())
      out += " " + f.path + (f.matched ? "" : " (unmatched)") + (f.copy_pending ? " (undecided)" : "");
    return out;
  }();
}

INSTANTIATE_TEST_SUITE_P(FileSource, Rotation, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "PatternMatchesRotated" : "LivePathOnly";
                         });

TEST(FileSource, CopyTruncateWhileWritingLosesAndDoublesNothingWhenTheWriterPauses) {
  TempDir dir;
  std::string path = dir / "app.log";
  append(path, "");
  CollectingSink sink;
  auto source = started(quick({path}), sink);
  ASSERT_TRUE(source);
  Writer writer(path);
  for (int r = 0; r < 3; ++r) {
    std::this_thread::sleep_for(80ms);
    ASSERT_TRUE(writer.wrote(100));
    std::lock_guard<std::mutex> paused(writer.pause);
    // No line may fall between our last read and the truncation: the copy is not followed.
    uint64_t size = fs::file_size(path);
    ASSERT_TRUE(wait_for([&] {
      auto f = source->files();
      return f.size() == 1 && f[0].offset == size;
    }));
    copy_truncate(path);
  }
  std::this_thread::sleep_for(80ms);
  ASSERT_TRUE(writer.wrote(100));
  writer.finish();
  int written = writer.written();
  EXPECT_TRUE(wait_for([&] { return sink.line_count() >= static_cast<size_t>(written); }));
  std::this_thread::sleep_for(50ms);
  expect_each_line_once(sink, written);
  std::set<std::string> streams;
  for (const auto& l : sink.lines()) streams.insert(l.stream);
  EXPECT_EQ(streams.size(), 4u);  // each truncation starts a new incarnation of the same inode
}

TEST(FileSource, CopyTruncateWithTheCopyMatchedReadsTheLinesWeHadNotReadFromTheCopy) {
  TempDir dir;
  std::string path = dir / "app.log";
  append(path, "");
  CollectingSink sink;
  auto options = quick({path + "*"});
  options.poll_ms = 40;  // lag behind the writer, so the copy holds lines not read from the original
  auto source = started(options, sink);
  ASSERT_TRUE(source);
  Writer writer(path);
  for (int r = 0; r < 3; ++r) {
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(writer.wrote(100));
    // In the second rotation the pipeline is full for a while: the source stops reading, and the lines
    // written meanwhile are, after the truncation, only in the copy.
    if (r == 1) {
      sink.set_full(true);
      std::this_thread::sleep_for(100ms);
    }
    {
      std::lock_guard<std::mutex> paused(writer.pause);
      if (fs::exists(path + ".1")) fs::rename(path + ".1", path + ".2");
      copy_truncate(path);
    }
    sink.set_full(false);
  }
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(writer.wrote(100));
  writer.finish();
  int written = writer.written();
  EXPECT_TRUE(wait_for([&] { return sink.line_count() >= static_cast<size_t>(written); }));
  std::this_thread::sleep_for(100ms);
  expect_each_line_once(sink, written);
  size_t from_copies = 0;
  for (const auto& l : sink.lines()) from_copies += l.origin != path;
  EXPECT_GT(from_copies, 0u);
}

TEST(FileSource, CopyTruncateOfASmallFileWithTheCopyMatchedDoublesNothing) {
  TempDir dir;
  std::string path = dir / "small.log";
  append(path, numbered("event", 0, 3));  // about 100 bytes: less than a full fingerprint
  CollectingSink sink;
  auto source = started(quick({path + "*"}), sink);
  ASSERT_TRUE(source);
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 3; }));
  copy_truncate(path);
  append(path, numbered("event", 3, 4));
  ASSERT_TRUE(wait_for([&] { return sink.line_count() >= 4 && source->files().size() == 2; }));
  std::this_thread::sleep_for(50ms);
  std::vector<std::string> expected;
  for (int i = 0; i < 4; ++i) expected.push_back("event " + std::to_string(i) + " some text of the event");
  EXPECT_EQ(sink.texts(), expected);
}

TEST(FileSource, ACopyThatIsNeverFollowedByATruncationIsASnapshot) {
  TempDir dir;
  std::string path = dir / "app.log";
  append(path, numbered("event", 0, 40));
  CollectingSink sink;
  auto source = started(quick({path + "*"}), sink);
  ASSERT_TRUE(source);
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 40; }));
  fs::copy_file(path, path + ".1");  // logrotate's `copy`, or an administrator's cp: the original goes on
  append(path, numbered("event", 40, 42));
  ASSERT_TRUE(wait_for([&] {
    auto files = source->files();
    return files.size() == 2 && !files[0].copy_pending && !files[1].copy_pending;
  }));
  append(path + ".1", "written to the copy\n");
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 43; }));
  std::this_thread::sleep_for(30ms);
  auto lines = sink.lines();
  ASSERT_EQ(lines.size(), 43u);
  EXPECT_EQ(lines[41].text, "event 41 some text of the event");
  EXPECT_EQ(lines[42].text, "written to the copy");
  EXPECT_EQ(lines[42].origin, path + ".1");
  EXPECT_EQ(lines[42].number, 41u);
}

TEST(FileSource, AFileThatOnlyStartsLikeAnotherIsReadWhole) {
  TempDir dir;
  std::string header = "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip\n";
  append(dir / "a.log", header);
  CollectingSink sink;
  auto source = started(quick({dir / "*.log"}), sink);
  ASSERT_TRUE(source);
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 1; }));
  append(dir / "b.log", header);  // looks like a copy of a.log at first
  std::this_thread::sleep_for(40ms);
  append(dir / "b.log", "2024-05-01 10:00:00 10.0.0.1 GET /index.html - 80 192.0.2.7\n");
  ASSERT_TRUE(wait_for([&] { return sink.line_count() == 3; }));
  auto lines = sink.lines();
  EXPECT_EQ(lines[1].origin, dir / "b.log");
  EXPECT_EQ(lines[1].position, 0u);
  EXPECT_EQ(lines[2].number, 2u);
  EXPECT_NE(lines[1].stream, lines[0].stream);
}

TEST(FileSource, RestartResumesRightAfterTheLastStoredBatch) {
  TempDir dir;
  std::string path = dir / "app.log";
  std::string body = numbered("event", 0, 100);
  append(path, body);
  CollectingSink first;
  first.set_store_limit(3);  // the batches after the third were pushed, their alerts never stored: a crash
  auto options = quick({path}, false);
  options.batch_lines = 10;
  auto a = started(options, first);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->wait_done(5000));
  ASSERT_EQ(first.line_count(), 100u);
  auto before = first.lines();

  CollectingSink second;
  second.set_stored(first.stored());
  append(path, numbered("event", 100, 105));
  auto b = started(options, second);
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->wait_done(5000));
  auto after = second.lines();
  ASSERT_EQ(after.size(), 75u);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].text, "event " + std::to_string(30 + i) + " some text of the event");
    EXPECT_EQ(after[i].number, 31 + i);
    if (30 + i < 100) {
      // The same line has the same stream and position as before: its alerts get the same ids.
      EXPECT_EQ(after[i].position, before[30 + i].position);
      EXPECT_EQ(after[i].stream, before[30 + i].stream);
    }
  }
}

TEST(FileSource, RestartInFollowModeResumesAfterTheLastStoredBatch) {
  TempDir dir;
  std::string path = dir / "app.log";
  append(path, "a\nb\n");
  CollectingSink first;
  auto a = started(quick({path}), first);
  ASSERT_TRUE(a);
  ASSERT_TRUE(wait_for([&] { return first.line_count() == 2; }));
  a->stop();
  append(path, "c\n");
  CollectingSink second;
  second.set_stored(first.stored());
  auto options = quick({path});
  options.from_beginning = false;  // a checkpoint wins over where a new file would start
  auto b = started(options, second);
  ASSERT_TRUE(b);
  ASSERT_TRUE(wait_for([&] { return second.line_count() == 1; }));
  append(path, "d\n");
  ASSERT_TRUE(wait_for([&] { return second.line_count() == 2; }));
  EXPECT_EQ(second.texts(), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(second.lines()[0].number, 3u);
  EXPECT_EQ(second.lines()[0].stream, first.lines()[0].stream);
}

TEST(FileSource, CopyTruncateWhileDownResumesFromTheCopyAndStartsTheTruncatedFileOver) {
  TempDir dir;
  std::string path = dir / "app.log";
  append(path, numbered("event", 0, 40));
  CollectingSink first;
  auto a = started(quick({path + "*"}), first);
  ASSERT_TRUE(a);
  ASSERT_TRUE(wait_for([&] { return first.line_count() == 40; }));
  a->stop();
  append(path, numbered("event", 40, 45));  // never read before the rotation
  copy_truncate(path);
  append(path, numbered("event", 45, 48));
  CollectingSink second;
  second.set_stored(first.stored());
  auto b = started(quick({path + "*"}), second);
  ASSERT_TRUE(b);
  ASSERT_TRUE(wait_for([&] { return second.line_count() >= 8; }));
  std::this_thread::sleep_for(50ms);
  auto lines = second.lines();
  ASSERT_EQ(lines.size(), 8u);
  std::map<std::string, std::vector<SeenLine>> by_origin;
  for (const auto& l : lines) by_origin[l.origin].push_back(l);
  ASSERT_EQ(by_origin[path + ".1"].size(), 5u);
  ASSERT_EQ(by_origin[path].size(), 3u);
  const auto& from_copy = by_origin[path + ".1"];
  EXPECT_EQ(from_copy[0].text, "event 40 some text of the event");
  EXPECT_EQ(from_copy[0].number, 41u);
  EXPECT_EQ(from_copy[0].stream, first.lines()[0].stream);  // the lines' alerts keep their ids
  EXPECT_EQ(from_copy[0].position, first.lines()[39].position + first.lines()[39].text.size() + 1);
  EXPECT_EQ(by_origin[path][0].text, "event 45 some text of the event");
  EXPECT_EQ(by_origin[path][0].position, 0u);
  EXPECT_NE(by_origin[path][0].stream, first.lines()[0].stream);
}

TEST(FileSource, ACheckpointOfAnEarlierFileOnTheSameInodeStartsTheFileOver) {
  TempDir dir;
  std::string path = dir / "app.log";
  std::string body = numbered("event", 0, 50);
  append(path, body);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  FileCheckpoint old;
  old.path = path;
  old.device = st.st_dev;
  old.inode = st.st_ino;
  old.offset = 300;
  old.line = 10;
  old.fingerprint_length = 1024;
  old.fingerprint = fingerprint_bytes("some other file's first bytes");
  old.stream = file_checkpoint_key(st.st_dev, st.st_ino) + ":0123456789abcdef";
  CollectingSink sink;
  sink.set_stored({{file_checkpoint_key(st.st_dev, st.st_ino), encode_file_checkpoint(old)}});
  std::vector<std::string> warnings;
  auto options = quick({path}, false);
  options.from_beginning = false;  // none of the file on the reused inode was read: from 0 all the same
  options.warn = [&](const std::string& w) { warnings.push_back(w); };
  auto source = started(options, sink);
  ASSERT_TRUE(source);
  ASSERT_TRUE(source->wait_done(5000));
  auto lines = sink.lines();
  ASSERT_EQ(lines.size(), 50u);
  EXPECT_EQ(lines[0].position, 0u);
  EXPECT_NE(lines[0].stream, old.stream);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("reading it from the start"), std::string::npos) << warnings[0];

  // A fingerprint that matches, but an offset past the end (truncated while socd was down): from the start
  // too.
  old.fingerprint = fingerprint_bytes(std::string_view(body).substr(0, 1024));
  old.offset = body.size() + 10;
  CollectingSink again;
  again.set_stored({{file_checkpoint_key(st.st_dev, st.st_ino), encode_file_checkpoint(old)}});
  auto second = started(options, again);
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->wait_done(5000));
  EXPECT_EQ(again.line_count(), 50u);
}

TEST(FileSource, CheckpointValuesRoundTripAndBadOnesAreRejected) {
  FileCheckpoint c;
  c.path = "/var/log/a \"quoted\"\\ name\xe9.log";
  c.device = 2049;
  c.inode = 1234567;
  c.offset = 1ull << 40;
  c.line = 99;
  c.fingerprint_length = 1024;
  c.fingerprint = 0xfedcba9876543210ull;
  c.stream = "file:2049:1234567:00000000deadbeef";
  auto back = decode_file_checkpoint(encode_file_checkpoint(c));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->path, c.path);
  EXPECT_EQ(back->device, c.device);
  EXPECT_EQ(back->inode, c.inode);
  EXPECT_EQ(back->offset, c.offset);
  EXPECT_EQ(back->line, c.line);
  EXPECT_EQ(back->fingerprint_length, c.fingerprint_length);
  EXPECT_EQ(back->fingerprint, c.fingerprint);
  EXPECT_EQ(back->stream, c.stream);
  EXPECT_FALSE(decode_file_checkpoint("").ok());
  EXPECT_FALSE(decode_file_checkpoint("{\"dev\":1}").ok());  // fields missing
  EXPECT_FALSE(decode_file_checkpoint("{\"dev\":-1,\"ino\":1}").ok());
  EXPECT_FALSE(decode_file_checkpoint("12 garbage").ok());
}

TEST(FileSource, OptionsAreChecked) {
  EXPECT_FALSE(FileSource::create(FileSourceOptions{}).ok());
  FileSourceOptions o;
  o.patterns = {""};
  EXPECT_FALSE(make_file_source(o).ok());
  o.patterns = {"/var/log/x.log"};
  o.poll_ms = 0;
  EXPECT_FALSE(make_file_source(o).ok());
  o.poll_ms = 100;
  auto s = make_file_source(o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->name(), "file:/var/log/x.log");
}

}  // namespace
}  // namespace socd
