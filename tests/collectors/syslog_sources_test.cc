// The network syslog sources on real loopback sockets (127.0.0.1 and ::1): framing, peers, limits,
// back-pressure and TLS. Every wait is bounded.
#include "socd/syslog_sources.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/tcp.h>

#include <set>

#include "support/socd_process.h"
#include "support/syslog_test_support.h"

namespace socd {
namespace {

using namespace std::chrono_literals;
using test::CollectingSink;
using test::eventually;
using test::port_of;
using test::ReceivedMessage;

ListenerLimits quick_limits() {
  ListenerLimits limits;
  limits.batch_flush_ms = 5;
  return limits;
}

// A started listener, or a test failure saying why not. The sink must outlive the source.
std::unique_ptr<Source> start_stream(CollectingSink& sink, const std::string& address,
                                     const ListenerLimits& limits = quick_limits(), const TlsOptions* tls = nullptr) {
  auto made = make_syslog_tcp_source(address, limits, tls);
  EXPECT_TRUE(made.ok()) << made.error().message();
  if (!made) return nullptr;
  Status started = (*made)->start(sink);
  EXPECT_TRUE(started.ok()) << started.message();
  if (!started.ok()) return nullptr;
  return std::move(*made);
}

std::unique_ptr<Source> start_udp(CollectingSink& sink, const std::string& address,
                                  const ListenerLimits& limits = quick_limits()) {
  auto made = make_syslog_udp_source(address, limits);
  EXPECT_TRUE(made.ok()) << made.error().message();
  if (!made) return nullptr;
  Status started = (*made)->start(sink);
  EXPECT_TRUE(started.ok()) << started.message();
  if (!started.ok()) return nullptr;
  return std::move(*made);
}

std::vector<std::string> texts(const std::vector<ReceivedMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.text);
  return out;
}

std::vector<std::string> texts_from(const std::vector<ReceivedMessage>& messages, const std::string& peer) {
  std::vector<std::string> out;
  for (const auto& m : messages)
    if (m.peer == peer) out.push_back(m.text);
  return out;
}

// Every batch names each peer once, and every line's peer index is in range.
void expect_peers_deduplicated(CollectingSink& sink) {
  sink.for_each_batch([](const SourceBatch& b) {
    std::set<std::string> unique(b.lines.peers.begin(), b.lines.peers.end());
    EXPECT_EQ(unique.size(), b.lines.peers.size()) << "a peer is listed twice in one batch";
    for (const Line& l : b.lines.lines) {
      EXPECT_GE(l.peer, 1u);
      EXPECT_LE(l.peer, b.lines.peers.size());
    }
  });
}

class Connection {
public:
  Connection(const std::string& host, uint16_t port) : fd_(test::tcp_connect(host, port)) {}
  ~Connection() { close(); }
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool send(std::string_view data) { return test::send_all(fd_, data); }
  std::string name() const { return test::local_name(fd_); }
  void finish_sending() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

private:
  int fd_;
};

std::string octet_frame(std::string_view message) { return std::to_string(message.size()) + " " + std::string(message); }

// ---- addresses and start-up errors -----------------------------------------------------------------------------

TEST(ListenAddress, ParsesIpv4AndBracketedIpv6) {
  auto v4 = parse_listen_address("127.0.0.1:5514");
  ASSERT_TRUE(v4.ok()) << v4.error().message();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 5514);
  EXPECT_FALSE(v4->ipv6);
  EXPECT_EQ(v4->to_string(), "127.0.0.1:5514");

  auto v6 = parse_listen_address("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.error().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_TRUE(v6->ipv6);
  EXPECT_EQ(v6->to_string(), "[::1]:0");

  auto any = parse_listen_address("[::]:65535");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->port, 65535);
  EXPECT_TRUE(parse_listen_address("0.0.0.0:514").ok());
}

TEST(ListenAddress, RejectsWhatIsNotANumericAddressAndPort) {
  for (const char* bad : {"localhost:514", "::1:514", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:x",
                          "[::1]514", "[::1", ":514", "[]:514", "[127.0.0.1]:514", "300.1.1.1:514", ""}) {
    auto parsed = parse_listen_address(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.error().message().find(std::string("'") + bad + "'"), std::string::npos)
        << parsed.error().message();
    EXPECT_NE(parsed.error().message().find("e.g. 127.0.0.1:5514"), std::string::npos) << parsed.error().message();
  }
}

TEST(SyslogSources, FactoriesRejectBadAddressesAndLimits) {
  EXPECT_FALSE(make_syslog_udp_source("nowhere", {}).ok());
  EXPECT_FALSE(make_syslog_tcp_source("nowhere:1", {}, nullptr).ok());
  ListenerLimits limits;
  limits.batch_messages = 0;
  auto made = make_syslog_tcp_source("127.0.0.1:0", limits, nullptr);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("batch_messages"), std::string::npos) << made.error().message();
  limits = {};
  limits.max_message_bytes = 0;
  made = make_syslog_udp_source("127.0.0.1:0", limits);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("max_message_bytes"), std::string::npos) << made.error().message();
}

TEST(SyslogSources, BindErrorsNameTheAddressAndTheReason) {
  CollectingSink sink;
  auto tcp = start_stream(sink, "127.0.0.1:0");
  ASSERT_TRUE(tcp);
  uint16_t port = port_of(*tcp);
  ASSERT_NE(port, 0);
  EXPECT_EQ(tcp->name(), "syslog-tcp:127.0.0.1:" + std::to_string(port));
  std::string address = "127.0.0.1:" + std::to_string(port);
  auto second = make_syslog_tcp_source(address, {}, nullptr);
  ASSERT_TRUE(second.ok());
  Status s = (*second)->start(sink);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(address), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("Address already in use"), std::string::npos) << s.message();

  auto udp = start_udp(sink, "[::1]:0");
  ASSERT_TRUE(udp);
  std::string udp_address = "[::1]:" + std::to_string(port_of(*udp));
  auto udp_second = make_syslog_udp_source(udp_address, {});
  ASSERT_TRUE(udp_second.ok());
  s = (*udp_second)->start(sink);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(udp_address), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("Address already in use"), std::string::npos) << s.message();
}

// ---- UDP -------------------------------------------------------------------------------------------------------

TEST(SyslogUdp, MessagesArriveWithTheirSenders) {
  CollectingSink sink;
  auto source = start_udp(sink, "127.0.0.1:0");
  ASSERT_TRUE(source);
  uint16_t port = port_of(*source);
  int a = test::udp_socket("127.0.0.1"), b = test::udp_socket("127.0.0.1");
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  std::vector<std::string> datagrams = {"<13>one\n", "<13>two\r\n", "<13>three", "<13>embedded\nnewline\n"};
  uint64_t bytes = 0;
  for (const auto& d : datagrams) {
    ASSERT_TRUE(test::udp_send(a, "127.0.0.1", port, d));
    bytes += d.size();
  }
  ASSERT_TRUE(test::udp_send(b, "127.0.0.1", port, "<13>four"));
  bytes += 8;
  ASSERT_EQ(sink.wait_for(5), 5u);
  auto got = sink.messages();
  EXPECT_EQ(texts_from(got, test::local_name(a)),
            (std::vector<std::string>{"<13>one", "<13>two", "<13>three", "<13>embedded\nnewline"}));
  EXPECT_EQ(texts_from(got, test::local_name(b)), (std::vector<std::string>{"<13>four"}));
  expect_peers_deduplicated(sink);
  sink.for_each_batch([&](const SourceBatch& batch) {
    EXPECT_EQ(batch.origin, "udp://127.0.0.1:" + std::to_string(port));
  });
  EXPECT_EQ(source->counters().lines.load(), 5u);
  EXPECT_EQ(source->counters().bytes.load(), bytes);
  EXPECT_EQ(source->counters().dropped.load(), 0u);
  ::close(a);
  ::close(b);
}

TEST(SyslogUdp, ListensOnIpv6) {
  CollectingSink sink;
  auto source = start_udp(sink, "[::1]:0");
  ASSERT_TRUE(source);
  int fd = test::udp_socket("::1");
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(test::udp_send(fd, "::1", port_of(*source), "<14>over ipv6\n"));
  ASSERT_EQ(sink.wait_for(1), 1u);
  auto got = sink.messages();
  EXPECT_EQ(got[0].text, "<14>over ipv6");
  EXPECT_EQ(got[0].peer, test::local_name(fd));
  EXPECT_EQ(got[0].peer.rfind("[::1]:", 0), 0u) << got[0].peer;
  ::close(fd);
}

TEST(SyslogUdp, OversizedDatagramIsPassedOnAsOversized) {
  CollectingSink sink;
  ListenerLimits limits = quick_limits();
  limits.max_message_bytes = 100;
  auto source = start_udp(sink, "127.0.0.1:0", limits);
  ASSERT_TRUE(source);
  int fd = test::udp_socket("127.0.0.1");
  std::string big(300, 'x');
  ASSERT_TRUE(test::udp_send(fd, "127.0.0.1", port_of(*source), big));
  ASSERT_TRUE(test::udp_send(fd, "127.0.0.1", port_of(*source), std::string(100, 'y') + "\n"));  // at the limit
  ASSERT_EQ(sink.wait_for(2), 2u);
  auto got = sink.messages();
  EXPECT_TRUE(got[0].oversized);
  EXPECT_EQ(got[0].full_length, 300u);
  EXPECT_FALSE(got[0].text.empty());
  EXPECT_EQ(got[0].text, big.substr(0, got[0].text.size()));
  EXPECT_FALSE(got[1].oversized);
  EXPECT_EQ(got[1].text, std::string(100, 'y'));
  EXPECT_EQ(source->counters().oversized.load(), 1u);
  ::close(fd);
}

TEST(SyslogUdp, DropsAreCountedWhenThePipelineIsFull) {
  CollectingSink sink;
  sink.set_full(true);
  auto source = start_udp(sink, "127.0.0.1:0");
  ASSERT_TRUE(source);
  int fd = test::udp_socket("127.0.0.1");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(test::udp_send(fd, "127.0.0.1", port_of(*source), "lost " + std::to_string(i)));
  EXPECT_TRUE(eventually([&] { return source->counters().dropped.load() == 20; }))
      << "dropped " << source->counters().dropped.load();
  EXPECT_GE(sink.refused(), 1u);
  EXPECT_EQ(sink.messages().size(), 0u);
  sink.set_full(false);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(test::udp_send(fd, "127.0.0.1", port_of(*source), "kept " + std::to_string(i)));
  ASSERT_EQ(sink.wait_for(5), 5u);
  EXPECT_EQ(texts(sink.messages()), (std::vector<std::string>{"kept 0", "kept 1", "kept 2", "kept 3", "kept 4"}));
  EXPECT_EQ(source->counters().lines.load(), 25u);
  EXPECT_EQ(source->counters().dropped.load(), 20u);
  ::close(fd);
}

TEST(SyslogUdp, BatchesAreBoundedAndStopPushesThePartialOne) {
  CollectingSink sink;
  ListenerLimits limits;
  limits.batch_messages = 4;
  limits.batch_flush_ms = 60'000;  // only a full batch or stop() pushes
  auto source = start_udp(sink, "127.0.0.1:0", limits);
  ASSERT_TRUE(source);
  int fd = test::udp_socket("127.0.0.1");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(test::udp_send(fd, "127.0.0.1", port_of(*source), std::string("m") + std::to_string(i)));
  ASSERT_EQ(sink.wait_for(8), 8u);
  EXPECT_TRUE(eventually([&] { return source->counters().lines.load() == 10; }));
  EXPECT_EQ(sink.messages().size(), 8u) << "the partial batch went out before stop()";
  source->stop();
  source->stop();  // twice is fine
  auto got = sink.messages();
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got[9].text, "m9");
  uint64_t last_sequence = 0;
  sink.for_each_batch([&](const SourceBatch& b) {
    EXPECT_LE(b.lines.lines.size(), 4u);
    EXPECT_GT(b.lines.sequence, last_sequence);
    last_sequence = b.lines.sequence;
  });
  ::close(fd);
}

// ---- TCP framing -----------------------------------------------------------------------------------------------

TEST(SyslogTcp, LfFramingAcceptsCrlfNulAndSkipsBlankLines) {
  CollectingSink sink;
  auto source = start_stream(sink, "127.0.0.1:0");
  ASSERT_TRUE(source);
  Connection c("127.0.0.1", port_of(*source));
  ASSERT_TRUE(c.ok());
  std::string input = std::string("<13>a\n<13>b\r\n\n<13>c") + '\0' + "<13>d" + '\0' + "\n<13>e\n";
  ASSERT_TRUE(c.send(input));
  ASSERT_EQ(sink.wait_for(5), 5u);
  auto got = sink.messages();
  EXPECT_EQ(texts(got), (std::vector<std::string>{"<13>a", "<13>b", "<13>c", "<13>d", "<13>e"}));
  for (const auto& m : got) EXPECT_EQ(m.peer, c.name());
  EXPECT_EQ(source->counters().lines.load(), 5u);
  EXPECT_TRUE(eventually([&] { return source->counters().bytes.load() == input.size(); }));
  EXPECT_EQ(source->counters().connections.load(), 1u);
  uint64_t batch_bytes = 0;
  sink.for_each_batch([&](const SourceBatch& batch) {
    EXPECT_EQ(batch.origin, "tcp://127.0.0.1:" + std::to_string(port_of(*source)));
    batch_bytes += batch.lines.bytes;
  });
  EXPECT_EQ(batch_bytes, input.size()) << "batches cover every byte, terminators and blank lines included";
}

TEST(SyslogTcp, OctetCountingOnIpv6KeepsNewlinesInsideMessages) {
  CollectingSink sink;
  auto source = start_stream(sink, "[::1]:0");
  ASSERT_TRUE(source);
  EXPECT_EQ(source->name(), "syslog-tcp:[::1]:" + std::to_string(port_of(*source)));
  Connection c("::1", port_of(*source));
  ASSERT_TRUE(c.ok());
  std::vector<std::string> messages = {"<13>first", "<13>multi\nline", "<13>ends with newline\n", "<13>9 digits"};
  std::string input;
  for (const auto& m : messages) input += octet_frame(m);
  ASSERT_TRUE(c.send(input));
  ASSERT_EQ(sink.wait_for(4), 4u);
  auto got = sink.messages();
  EXPECT_EQ(texts(got),
            (std::vector<std::string>{"<13>first", "<13>multi\nline", "<13>ends with newline", "<13>9 digits"}));
  EXPECT_EQ(got[0].peer, c.name());
  EXPECT_EQ(got[0].peer.rfind("[::1]:", 0), 0u);
  uint64_t batch_bytes = 0;
  sink.for_each_batch([&](const SourceBatch& batch) { batch_bytes += batch.lines.bytes; });
  EXPECT_EQ(batch_bytes, input.size()) << "batches cover every byte, counts included";
}

TEST(SyslogTcp, EachConnectionHasItsOwnFraming) {
  CollectingSink sink;
  auto source = start_stream(sink, "127.0.0.1:0");
  ASSERT_TRUE(source);
  uint16_t port = port_of(*source);
  Connection lf("127.0.0.1", port), octet("127.0.0.1", port), digit_first("127.0.0.1", port);
  ASSERT_TRUE(lf.ok() && octet.ok() && digit_first.ok());
  // Interleaved, each cut mid-message.
  ASSERT_TRUE(lf.send("<13>lf one\n<13>lf t"));
  ASSERT_TRUE(octet.send(octet_frame("<13>octet one") + "13 <13>oct"));
  // The first byte decides: a digit means octet counting, so "12 " frames the next 12 bytes, and what follows
  // them is no count: the connection is closed as malformed.
  ASSERT_TRUE(digit_first.send("12 looks like a count\n"));
  ASSERT_TRUE(lf.send("wo\n"));
  ASSERT_TRUE(octet.send("et two"));
  ASSERT_EQ(sink.wait_for(5), 5u);
  auto got = sink.messages();
  EXPECT_EQ(texts_from(got, lf.name()), (std::vector<std::string>{"<13>lf one", "<13>lf two"}));
  EXPECT_EQ(texts_from(got, octet.name()), (std::vector<std::string>{"<13>octet one", "<13>octet two"}));
  EXPECT_EQ(texts_from(got, digit_first.name()), (std::vector<std::string>{"looks like a"}));
  EXPECT_TRUE(test::closed_by_peer(digit_first.fd(), 5000ms));
  EXPECT_EQ(source->counters().errors.load(), 1u);
  expect_peers_deduplicated(sink);
}

TEST(SyslogTcp, MessagesSplitAcrossManyWritesAreReassembled) {
  CollectingSink sink;
  auto source = start_stream(sink, "127.0.0.1:0");
  ASSERT_TRUE(source);
  uint16_t port = port_of(*source);
  Connection lf("127.0.0.1", port), octet("127.0.0.1", port);
  ASSERT_TRUE(lf.ok() && octet.ok());
  int one = 1;
  ::setsockopt(lf.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(octet.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string long_message = "<13>" + std::string(3000, 'L');
  std::string lf_input = long_message + "\n<13>short\r\n";
  std::string octet_input = octet_frame(long_message) + octet_frame("<13>short");
  // A few bytes at a time, with pauses so the pieces arrive in separate reads.
  for (size_t i = 0; i < std::max(lf_input.size(), octet_input.size()); i += 7) {
    if (i < lf_input.size()) {
      ASSERT_TRUE(lf.send(std::string_view(lf_input).substr(i, 7)));
    }
    if (i < octet_input.size()) {
      ASSERT_TRUE(octet.send(std::string_view(octet_input).substr(i, 7)));
    }
    if (i % 700 == 0) std::this_thread::sleep_for(2ms);
  }
  ASSERT_EQ(sink.wait_for(4), 4u);
  auto got = sink.messages();
  EXPECT_EQ(texts_from(got, lf.name()), (std::vector<std::string>{long_message, "<13>short"}));
  EXPECT_EQ(texts_from(got, octet.name()), (std::vector<std::string>{long_message, "<13>short"}));
}

TEST(SyslogTcp, OversizedMessagesArePassedOnAndTheStreamResynchronises) {
  CollectingSink sink;
  ListenerLimits limits = quick_limits();
  limits.max_message_bytes = 100;
  auto source = start_stream(sink, "127.0.0.1:0", limits);
  ASSERT_TRUE(source);
  uint16_t port = port_of(*source);
  Connection lf("127.0.0.1", port), octet("127.0.0.1", port);
  ASSERT_TRUE(lf.ok() && octet.ok());
  std::string huge(200'000, 'y');  // longer than one read: skipped across reads
  std::string lf_input = "<13>one\n" + std::string(500, 'x') + "\n<13>two\n" + huge + "\n<13>three\n" +
                         std::string(100, 'z') + "\n";
  std::string octet_input = octet_frame("<13>four") + octet_frame(std::string(500, 'x')) + octet_frame("<13>five") +
                            octet_frame(huge) + octet_frame("<13>six");
  ASSERT_TRUE(lf.send(lf_input));
  ASSERT_TRUE(octet.send(octet_input));
  ASSERT_EQ(sink.wait_for(11), 11u);
  auto got = sink.messages();
  std::vector<ReceivedMessage> from_lf, from_octet;
  for (const auto& m : got) (m.peer == lf.name() ? from_lf : from_octet).push_back(m);
  ASSERT_EQ(from_lf.size(), 6u);
  ASSERT_EQ(from_octet.size(), 5u);
  auto expect_oversized = [](const ReceivedMessage& m, uint64_t length, char fill) {
    EXPECT_TRUE(m.oversized);
    EXPECT_EQ(m.full_length, length);
    EXPECT_FALSE(m.text.empty());
    EXPECT_LE(m.text.size(), 4096u);  // the head kept (a dead letter's bytes), never the whole message
    EXPECT_EQ(m.text, std::string(m.text.size(), fill));
  };
  EXPECT_EQ(from_lf[0].text, "<13>one");
  expect_oversized(from_lf[1], 500, 'x');
  EXPECT_EQ(from_lf[2].text, "<13>two");
  expect_oversized(from_lf[3], huge.size(), 'y');
  EXPECT_EQ(from_lf[4].text, "<13>three");
  EXPECT_FALSE(from_lf[5].oversized);  // exactly at the limit
  EXPECT_EQ(from_lf[5].text, std::string(100, 'z'));
  EXPECT_EQ(from_octet[0].text, "<13>four");
  expect_oversized(from_octet[1], 500, 'x');
  EXPECT_EQ(from_octet[2].text, "<13>five");
  expect_oversized(from_octet[3], huge.size(), 'y');
  EXPECT_EQ(from_octet[4].text, "<13>six");
  EXPECT_EQ(source->counters().oversized.load(), 4u);
  EXPECT_EQ(source->counters().errors.load(), 0u);
  uint64_t batch_bytes = 0;
  sink.for_each_batch([&](const SourceBatch& batch) { batch_bytes += batch.lines.bytes; });
  EXPECT_EQ(batch_bytes, lf_input.size() + octet_input.size());
}

TEST(SyslogTcp, MalformedOctetCountClosesOnlyThatConnection) {
  CollectingSink sink;
  auto source = start_stream(sink, "127.0.0.1:0");
  ASSERT_TRUE(source);
  uint16_t port = port_of(*source);
  Connection bad("127.0.0.1", port), leading_zero("127.0.0.1", port), good("127.0.0.1", port);
  ASSERT_TRUE(bad.ok() && leading_zero.ok() && good.ok());
  ASSERT_TRUE(bad.send(octet_frame("<13>fine") + "x12 not a count"));
  ASSERT_TRUE(leading_zero.send("05 hello"));
  EXPECT_TRUE(test::closed_by_peer(bad.fd(), 5000ms));
  EXPECT_TRUE(test::closed_by_peer(leading_zero.fd(), 5000ms));
  ASSERT_TRUE(good.send(octet_frame("<13>still heard")));
  ASSERT_EQ(sink.wait_for(2), 2u);
  EXPECT_EQ(texts(sink.messages()), (std::vector<std::string>{"<13>fine", "<13>still heard"}));
  EXPECT_EQ(source->counters().errors.load(), 2u);
}

TEST(SyslogTcp, PartialLastMessageIsPassedOnAtEof) {
  CollectingSink sink;
  auto source = start_stream(sink, "127.0.0.1:0");
  ASSERT_TRUE(source);
  uint16_t port = port_of(*source);
  Connection lf("127.0.0.1", port), octet("127.0.0.1", port);
  ASSERT_TRUE(lf.ok() && octet.ok());
  ASSERT_TRUE(lf.send("<13>complete\n<13>no trailing newline"));
  lf.finish_sending();
  ASSERT_TRUE(octet.send(octet_frame("<13>whole") + "30 <13>cut short"));
  octet.finish_sending();
  ASSERT_EQ(sink.wait_for(4), 4u);
  auto got = sink.messages();
  EXPECT_EQ(texts_from(got, lf.name()), (std::vector<std::string>{"<13>complete", "<13>no trailing newline"}));
  EXPECT_EQ(texts_from(got, octet.name()), (std::vector<std::string>{"<13>whole", "<13>cut short"}));
  // The cut octet-counted frame is counted as an error (the sender broke its own framing); LF's is not.
  EXPECT_EQ(source->counters().errors.load(), 1u);
  EXPECT_TRUE(test::closed_by_peer(lf.fd(), 5000ms));
}

// ---- TCP connections -------------------------------------------------------------------------------------------

TEST(SyslogTcp, IdleConnectionsAreClosed) {
  CollectingSink sink;
  ListenerLimits limits = quick_limits();
  limits.idle_timeout_seconds = 1;
  auto source = start_stream(sink, "127.0.0.1:0", limits);
  ASSERT_TRUE(source);
  uint16_t port = port_of(*source);
  Connection silent("127.0.0.1", port), partial("127.0.0.1", port), chatty("127.0.0.1", port);
  ASSERT_TRUE(silent.ok() && partial.ok() && chatty.ok());
  ASSERT_TRUE(partial.send("<13>half a message"));
  auto start = std::chrono::steady_clock::now();
  // The chatty one speaks every 300 ms, and is never idle for a second.
  bool chatty_closed = false;
  while (std::chrono::steady_clock::now() - start < 2500ms) {
    ASSERT_TRUE(chatty.send("<13>tick\n"));
    if (test::closed_by_peer(chatty.fd(), 300ms)) chatty_closed = true;
  }
  EXPECT_FALSE(chatty_closed);
  EXPECT_TRUE(test::closed_by_peer(silent.fd(), 3000ms));
  EXPECT_TRUE(test::closed_by_peer(partial.fd(), 3000ms));
  EXPECT_TRUE(eventually([&] {
    auto got = sink.messages();
    return std::any_of(got.begin(), got.end(), [](auto& m) { return m.text == "<13>half a message"; });
  })) << "the partial message of a connection closed for idleness is passed on";
  EXPECT_EQ(source->counters().errors.load(), 0u);
}

TEST(SyslogTcp, ConnectionsOverTheLimitAreRefused) {
  CollectingSink sink;
  ListenerLimits limits = quick_limits();
  limits.max_connections = 2;
  auto source = start_stream(sink, "127.0.0.1:0", limits);
  ASSERT_TRUE(source);
  uint16_t port = port_of(*source);
  Connection a("127.0.0.1", port), b("127.0.0.1", port);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a.send("a1\n"));
  ASSERT_TRUE(b.send("b1\n"));
  ASSERT_EQ(sink.wait_for(2), 2u);  // both accepted
  Connection c("127.0.0.1", port);
  ASSERT_TRUE(c.ok());  // the kernel completes the handshake; the listener then closes it
  EXPECT_TRUE(test::closed_by_peer(c.fd(), 5000ms));
  EXPECT_EQ(source->counters().refused.load(), 1u);
  EXPECT_EQ(source->counters().connections.load(), 2u);
  ASSERT_TRUE(b.send("b2\n"));
  // Once `a` is gone (its unterminated last message shows the listener saw the close), there is room again.
  ASSERT_TRUE(a.send("a-last"));
  a.close();
  ASSERT_EQ(sink.wait_for(4), 4u);
  Connection d("127.0.0.1", port);
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d.send("d1\n"));
  ASSERT_EQ(sink.wait_for(5), 5u);
  EXPECT_EQ(texts_from(sink.messages(), d.name()), (std::vector<std::string>{"d1"}));
  EXPECT_EQ(source->counters().refused.load(), 1u);
}

// While the pipeline is full the listener stops reading, the sender is slowed down by TCP, and once the pipeline
// drains every message arrives, once, in order.
TEST(SyslogTcp, BackPressureLosesNothing) {
  CollectingSink sink;
  sink.set_full(true);
  ListenerLimits limits = quick_limits();
  limits.batch_messages = 64;
  auto source = start_stream(sink, "127.0.0.1:0", limits);
  ASSERT_TRUE(source);
  Connection c("127.0.0.1", port_of(*source));
  ASSERT_TRUE(c.ok());
  ::fcntl(c.fd(), F_SETFL, ::fcntl(c.fd(), F_GETFL) | O_NONBLOCK);
  auto message = [](size_t i) {
    char text[128];
    std::snprintf(text, sizeof text, "<13>back-pressure message %08zu padded to about a hundred bytes ......", i);
    return std::string(text);
  };
  // Write until the connection takes no more for half a second (bounded: 64 MiB at most).
  size_t sent = 0;
  std::string pending;
  bool blocked = false;
  while (sent < 640'000 && !blocked) {
    if (pending.empty()) pending = message(sent) + "\n";
    ssize_t n = ::send(c.fd(), pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n > 0) {
      pending.erase(0, static_cast<size_t>(n));
      if (pending.empty()) ++sent;
      continue;
    }
    ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << std::strerror(errno);
    pollfd p{c.fd(), POLLOUT, 0};
    blocked = ::poll(&p, 1, 500) == 0;
  }
  ASSERT_TRUE(blocked) << "the sender was never slowed down (" << sent << " messages sent)";
  EXPECT_TRUE(eventually([&] { return sink.blocked_pushes() >= 1; }));
  EXPECT_EQ(sink.messages().size(), 0u);
  // Drain, finish the last message, send a few more, blocking.
  sink.set_full(false);
  ::fcntl(c.fd(), F_SETFL, ::fcntl(c.fd(), F_GETFL) & ~O_NONBLOCK);
  ASSERT_TRUE(c.send(pending));
  if (!pending.empty()) ++sent;
  for (int i = 0; i < 100; ++i, ++sent) ASSERT_TRUE(c.send(message(sent) + "\n"));
  c.finish_sending();
  ASSERT_EQ(sink.wait_for(sent, 30s), sent);
  auto got = sink.messages();
  ASSERT_EQ(got.size(), sent);
  for (size_t i = 0; i < sent; ++i) ASSERT_EQ(got[i].text, message(i)) << "message " << i;
  EXPECT_EQ(source->counters().dropped.load(), 0u);
  sink.for_each_batch([](const SourceBatch& b) { EXPECT_LE(b.lines.lines.size(), 64u); });
}

TEST(SyslogTcp, StopPushesThePartialBatchAndCutMessages) {
  CollectingSink sink;
  ListenerLimits limits;
  limits.batch_flush_ms = 60'000;
  auto source = start_stream(sink, "127.0.0.1:0", limits);
  ASSERT_TRUE(source);
  Connection c("127.0.0.1", port_of(*source));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send("<13>a\n<13>b\n<13>cut"));
  ASSERT_TRUE(eventually([&] { return source->counters().lines.load() == 2; }));
  EXPECT_EQ(sink.messages().size(), 0u);
  source->stop();
  EXPECT_EQ(texts(sink.messages()), (std::vector<std::string>{"<13>a", "<13>b", "<13>cut"}));
  EXPECT_TRUE(test::closed_by_peer(c.fd(), 5000ms));
}

TEST(SyslogTcp, BatchesRefusedAtShutdownAreCountedAsDropped) {
  CollectingSink sink;
  sink.close();
  auto source = start_stream(sink, "127.0.0.1:0");
  ASSERT_TRUE(source);
  Connection c("127.0.0.1", port_of(*source));
  ASSERT_TRUE(c.send("<13>a\n<13>b\n<13>c\n"));
  EXPECT_TRUE(eventually([&] { return source->counters().dropped.load() == 3; }))
      << "dropped " << source->counters().dropped.load();
}

// ---- TLS -------------------------------------------------------------------------------------------------------

class SyslogTls : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (test::find_program("openssl").empty()) return;
    dir_ = new test::TempDir();
    pki_ = new test::TestPki(dir_->path());
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete dir_;
    pki_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (pki_ == nullptr) GTEST_SKIP() << "the openssl command is not installed (apt-get install openssl)";
    ASSERT_TRUE(pki_->error.empty()) << pki_->error;
  }
  TlsOptions options(bool require_client_certificate) const {
    TlsOptions o;
    o.cert_file = pki_->server_cert;
    o.key_file = pki_->server_key;
    if (require_client_certificate) o.ca_file = pki_->ca;
    return o;
  }
  static test::TempDir* dir_;
  static test::TestPki* pki_;
};
test::TempDir* SyslogTls::dir_ = nullptr;
test::TestPki* SyslogTls::pki_ = nullptr;

TEST_F(SyslogTls, ClientWithACertificateIsHeard) {
  CollectingSink sink;
  TlsOptions tls = options(true);
  auto source = start_stream(sink, "127.0.0.1:0", quick_limits(), &tls);
  ASSERT_TRUE(source);
  EXPECT_EQ(source->name(), "syslog-tls:127.0.0.1:" + std::to_string(port_of(*source)));
  test::TlsClient lf("127.0.0.1", port_of(*source), pki_->ca, pki_->client_cert, pki_->client_key);
  ASSERT_TRUE(lf.connected()) << lf.error();
  test::TlsClient octet("127.0.0.1", port_of(*source), pki_->ca, pki_->client_cert, pki_->client_key);
  ASSERT_TRUE(octet.connected()) << octet.error();
  ASSERT_TRUE(lf.send("<13>over tls\n<13>second\n"));
  ASSERT_TRUE(octet.send(octet_frame("<13>octets over tls")));
  ASSERT_EQ(sink.wait_for(3), 3u);
  auto got = sink.messages();
  EXPECT_EQ(texts_from(got, test::local_name(lf.fd())), (std::vector<std::string>{"<13>over tls", "<13>second"}));
  EXPECT_EQ(texts_from(got, test::local_name(octet.fd())), (std::vector<std::string>{"<13>octets over tls"}));
  sink.for_each_batch([&](const SourceBatch& batch) {
    EXPECT_EQ(batch.origin, "tls://127.0.0.1:" + std::to_string(port_of(*source)));
  });
  EXPECT_EQ(source->counters().errors.load(), 0u);
}

TEST_F(SyslogTls, ClientsWithoutAnAcceptedCertificateAreRefused) {
  CollectingSink sink;
  TlsOptions tls = options(true);
  auto source = start_stream(sink, "127.0.0.1:0", quick_limits(), &tls);
  ASSERT_TRUE(source);
  {
    // With TLS 1.3 the client finishes its side before the server checks it: the refusal shows on the next read.
    test::TlsClient anonymous("127.0.0.1", port_of(*source), pki_->ca);
    if (anonymous.connected()) {
      anonymous.send("<13>must not arrive\n");
      EXPECT_TRUE(anonymous.refused_by_server());
    }
  }
  EXPECT_TRUE(eventually([&] { return source->counters().errors.load() == 1; }));
  {
    test::TlsClient stranger("127.0.0.1", port_of(*source), pki_->ca, pki_->stranger_cert, pki_->stranger_key);
    if (stranger.connected()) {
      stranger.send("<13>must not arrive either\n");
      EXPECT_TRUE(stranger.refused_by_server());
    }
  }
  EXPECT_TRUE(eventually([&] { return source->counters().errors.load() == 2; }));
  // Not TLS at all.
  Connection plain("127.0.0.1", port_of(*source));
  ASSERT_TRUE(plain.send("<13>plain text to a TLS port\n"));
  EXPECT_TRUE(test::closed_by_peer(plain.fd(), 5000ms));
  EXPECT_TRUE(eventually([&] { return source->counters().errors.load() == 3; }));
  // The listener goes on.
  test::TlsClient good("127.0.0.1", port_of(*source), pki_->ca, pki_->client_cert, pki_->client_key);
  ASSERT_TRUE(good.connected()) << good.error();
  ASSERT_TRUE(good.send("<13>welcome\n"));
  ASSERT_EQ(sink.wait_for(1), 1u);
  EXPECT_EQ(texts(sink.messages()), (std::vector<std::string>{"<13>welcome"}));
}

TEST_F(SyslogTls, WithoutACaClientsNeedNoCertificateAndIpv6Works) {
  CollectingSink sink;
  TlsOptions tls = options(false);
  auto source = start_stream(sink, "[::1]:0", quick_limits(), &tls);
  ASSERT_TRUE(source);
  test::TlsClient client("::1", port_of(*source), pki_->ca);
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(client.send("<13>anonymous but encrypted\n"));
  ASSERT_EQ(sink.wait_for(1), 1u);
  auto got = sink.messages();
  EXPECT_EQ(got[0].text, "<13>anonymous but encrypted");
  EXPECT_EQ(got[0].peer, test::local_name(client.fd()));
}

// A sender that resets the connection: the listener's close_notify then goes to a dead socket, which must not
// raise SIGPIPE (that would end the whole process, this test included).
TEST_F(SyslogTls, PeersThatResetDoNotEndTheProcess) {
  CollectingSink sink;
  TlsOptions tls = options(false);
  auto source = start_stream(sink, "127.0.0.1:0", quick_limits(), &tls);
  ASSERT_TRUE(source);
  for (int i = 0; i < 20; ++i) {
    test::TlsClient client("127.0.0.1", port_of(*source), pki_->ca);
    ASSERT_TRUE(client.connected()) << client.error();
    ASSERT_TRUE(client.send("<13>before reset " + std::to_string(i) + "\n"));
    ASSERT_EQ(sink.wait_for(i + 1), static_cast<size_t>(i + 1));
    client.reset();
  }
  test::TlsClient after("127.0.0.1", port_of(*source), pki_->ca);
  ASSERT_TRUE(after.connected()) << after.error();
  ASSERT_TRUE(after.send("<13>still listening\n"));
  ASSERT_EQ(sink.wait_for(21), 21u);
  EXPECT_EQ(sink.messages().back().text, "<13>still listening");
}

TEST_F(SyslogTls, BackPressureLosesNothing) {
  CollectingSink sink;
  sink.set_full(true);
  ListenerLimits limits = quick_limits();
  limits.batch_messages = 16;
  TlsOptions tls = options(true);
  auto source = start_stream(sink, "127.0.0.1:0", limits, &tls);
  ASSERT_TRUE(source);
  test::TlsClient client("127.0.0.1", port_of(*source), pki_->ca, pki_->client_cert, pki_->client_key);
  ASSERT_TRUE(client.connected()) << client.error();
  constexpr int kMessages = 20'000;
  std::thread writer([&] {
    std::string chunk;
    for (int i = 0; i < kMessages; ++i) {
      chunk += "<13>tls message " + std::to_string(i) + "\n";
      if (chunk.size() > 10'000 || i == kMessages - 1) {
        if (!client.send(chunk)) return;
        chunk.clear();
      }
    }
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sink.messages().size(), 0u);
  sink.set_full(false);
  EXPECT_EQ(sink.wait_for(kMessages, 30s), static_cast<size_t>(kMessages));
  writer.join();
  auto got = sink.messages();
  ASSERT_EQ(got.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(got[i].text, "<13>tls message " + std::to_string(i));
  sink.for_each_batch([](const SourceBatch& b) { EXPECT_LE(b.lines.lines.size(), 16u); });
}

TEST_F(SyslogTls, StartReportsUnusableFilesByName) {
  CollectingSink sink;
  auto start_with = [&](const TlsOptions& tls) {
    auto made = make_syslog_tcp_source("127.0.0.1:0", {}, &tls);
    EXPECT_TRUE(made.ok());
    return (*made)->start(sink);
  };
  TlsOptions missing = options(true);
  missing.cert_file = (dir_->path() / "absent.pem").string();
  Status s = start_with(missing);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(missing.cert_file), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();

  TlsOptions not_pem = options(false);
  not_pem.cert_file = (dir_->path() / "openssl.cnf").string();
  s = start_with(not_pem);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot load the server certificate '" + not_pem.cert_file + "'"), std::string::npos)
      << s.message();

  TlsOptions mismatched = options(false);
  mismatched.key_file = pki_->client_key;
  s = start_with(mismatched);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("the private key of cert_file"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("PRIVATE KEY"), std::string::npos) << "key material in an error";

  TlsOptions bad_ca = options(true);
  bad_ca.ca_file = (dir_->path() / "openssl.cnf").string();
  s = start_with(bad_ca);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(bad_ca.ca_file), std::string::npos) << s.message();
}

}  // namespace
}  // namespace socd
