// A real syslog-over-TLS receiver for the CEF sink's tests and benchmark: rsyslogd (Debian, with its openssl
// network stream driver) in the foreground on 127.0.0.1, imtcp over TLS requiring a client certificate from the
// test CA, writing the MSG part of every message it receives as one line of a file. And a CEF parser that undoes
// the escaping, to check what arrived.
#pragma once
#include <glob.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/socd_service.h"

namespace socd::test {

inline bool rsyslog_openssl_installed() {
  bool any = false;
  for (const char* pattern : {"/usr/lib/*/rsyslog/lmnsd_ossl.so", "/usr/lib/rsyslog/lmnsd_ossl.so"}) {
    glob_t found{};
    any = any || (::glob(pattern, 0, nullptr, &found) == 0 && found.gl_pathc > 0);
    ::globfree(&found);
  }
  return any && !find_program("rsyslogd").empty();
}

class RsyslogTlsReceiver {
public:
  // `dir` holds its configuration, work directory, log and the received messages (received.log).
  RsyslogTlsReceiver(const std::filesystem::path& dir, const std::string& ca, const std::string& cert,
                     const std::string& key)
      : dir_(dir) {
    std::filesystem::create_directories(dir / "work");
    port_ = free_tcp_port();
    const std::string config =
        "global(workDirectory=\"" + (dir / "work").string() + "\" DefaultNetstreamDriver=\"ossl\" "
        "DefaultNetstreamDriverCAFile=\"" + ca + "\" DefaultNetstreamDriverCertFile=\"" + cert +
        "\" DefaultNetstreamDriverKeyFile=\"" + key + "\" maxMessageSize=\"64k\")\n"
        "module(load=\"imtcp\" StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\" "
        "StreamDriver.AuthMode=\"x509/certvalid\" MaxSessions=\"1000\")\n"
        "template(name=\"msgonly\" type=\"string\" string=\"%msg%\\n\")\n"
        "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" + std::to_string(port_) + "\" ruleset=\"cef\")\n"
        "ruleset(name=\"cef\" queue.type=\"direct\") {\n"
        "  action(type=\"omfile\" file=\"" + received().string() + "\" template=\"msgonly\" asyncWriting=\"off\" "
        "flushOnTXEnd=\"on\" ioBufferSize=\"256k\")\n}\n";
    write_file(dir / "rsyslog.conf", config);
  }
  ~RsyslogTlsReceiver() { process_.stop(std::chrono::seconds(5)); }

  // Starts rsyslogd and waits until it accepts connections.
  bool start(std::string& error) {
    if (!process_.start(find_program("rsyslogd"),
                        {"-n", "-f", (dir_ / "rsyslog.conf").string(), "-i", (dir_ / "rsyslogd.pid").string()},
                        (dir_ / "rsyslogd.log").string(), {})) {
      error = process_.error();
      return false;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!process_.running()) break;
      int fd = tcp_connect("127.0.0.1", port_);
      if (fd >= 0) {
        ::close(fd);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    error = "rsyslogd did not listen on 127.0.0.1:" + std::to_string(port_) + " (" + process_.status() +
            "); its log:\n" + process_.log();
    return false;
  }
  uint16_t port() const { return port_; }
  std::filesystem::path received() const { return dir_ / "received.log"; }
  std::string log() const { return process_.log(); }

  // The lines received so far.
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::ifstream in(received());
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.front() == ' ') line.erase(0, 1);
      if (!line.empty()) out.push_back(line);
    }
    return out;
  }
  size_t line_count() const {
    std::ifstream in(received());
    size_t n = 0;
    std::string line;
    while (std::getline(in, line)) n += !line.empty();
    return n;
  }
  // Waits until at least `count` lines arrived or `timeout` passed; returns how many there are.
  size_t wait_for_lines(size_t count, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t n = line_count();
    while (n < count && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      n = line_count();
    }
    return n;
  }

private:
  std::filesystem::path dir_;
  uint16_t port_ = 0;
  ChildProcess process_;
};

// A CEF event split and unescaped: the 7 header fields after "CEF:0" and the extension's keys and values.
struct CefEvent {
  std::vector<std::string> header;  // Version(0), Vendor, Product, DeviceVersion, SignatureID, Name, Severity
  std::map<std::string, std::string> extension;
  std::string error;                // what is wrong with the text, or ""
};

inline CefEvent parse_cef(std::string_view text) {
  CefEvent e;
  if (text.rfind("CEF:", 0) != 0) {
    e.error = "does not start with CEF:";
    return e;
  }
  text.remove_prefix(4);
  std::string field;
  size_t i = 0;
  for (; i < text.size() && e.header.size() < 7; ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size() || (text[i + 1] != '|' && text[i + 1] != '\\')) {
        e.error = "a backslash in the header escapes neither | nor \\";
        return e;
      }
      field.push_back(text[++i]);
    } else if (c == '|') {
      e.header.push_back(field);
      field.clear();
    } else {
      field.push_back(c);
    }
  }
  if (e.header.size() != 7) {
    e.error = "fewer than 8 header fields";
    return e;
  }
  // Extension: key=value pairs separated by spaces; a value runs to the space before the next unescaped `key=`.
  std::string_view ext = text.substr(i);
  std::vector<std::pair<size_t, size_t>> keys;  // (start of key, position of '=')
  for (size_t p = 0; p < ext.size(); ++p) {
    if (ext[p] == '\\') {
      ++p;
      continue;
    }
    if (ext[p] != '=') continue;
    size_t start = p;
    while (start > 0 && ext[start - 1] != ' ') --start;
    keys.emplace_back(start, p);
  }
  for (size_t k = 0; k < keys.size(); ++k) {
    const std::string key(ext.substr(keys[k].first, keys[k].second - keys[k].first));
    const size_t end = k + 1 < keys.size() ? keys[k + 1].first - 1 : ext.size();
    std::string_view raw = ext.substr(keys[k].second + 1, end - keys[k].second - 1);
    std::string value;
    for (size_t p = 0; p < raw.size(); ++p) {
      if (raw[p] != '\\') {
        value.push_back(raw[p]);
        continue;
      }
      if (++p >= raw.size()) {
        e.error = "a value ends in a lone backslash";
        return e;
      }
      switch (raw[p]) {
        case '\\': value.push_back('\\'); break;
        case '=': value.push_back('='); break;
        case 'n': value.push_back('\n'); break;
        case 'r': value.push_back('\r'); break;
        default: e.error = std::string("unknown escape \\") + raw[p]; return e;
      }
    }
    e.extension[key] = value;
  }
  return e;
}

}  // namespace socd::test
