// The text form of the ledger's records (incidents, incident commands, rule-set loads): a header line, then one
// line per field, fields separated by tabs; backslash, tab, newline and carriage return inside a field are
// written \\, \t, \n, \r. Readable with `ldb`/`strings`, stable, and easy to hash. Internal to storage/.
#pragma once
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace socd::store {

class RecordWriter {
public:
  explicit RecordWriter(std::string_view header) : out_(header) { out_ += '\n'; }
  void field(std::string_view key, std::string_view value) { fields({key, value}); }
  void fields(std::initializer_list<std::string_view> parts) {
    bool first = true;
    for (auto p : parts) {
      if (!first) out_ += '\t';
      first = false;
      escape(p);
    }
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

private:
  void escape(std::string_view s) {
    for (char c : s) {
      switch (c) {
        case '\\': out_ += "\\\\"; break;
        case '\t': out_ += "\\t"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        default: out_ += c;
      }
    }
  }
  std::string out_;
};

class RecordReader {
public:
  explicit RecordReader(std::string_view text) : rest_(text) {}
  bool header(std::string_view expected) {
    size_t nl = rest_.find('\n');
    if (nl == std::string_view::npos || rest_.substr(0, nl) != expected) return false;
    rest_.remove_prefix(nl + 1);
    return true;
  }
  // The next line's fields (still escaped: unescape() them); false at the end.
  bool next(std::vector<std::string_view>& fields) {
    fields.clear();
    if (rest_.empty()) return false;
    size_t nl = rest_.find('\n');
    if (nl == std::string_view::npos) {
      ok_ = false;  // every line ends with a newline
      return false;
    }
    std::string_view line = rest_.substr(0, nl);
    rest_.remove_prefix(nl + 1);
    for (;;) {
      size_t tab = line.find('\t');
      fields.push_back(line.substr(0, tab));
      if (tab == std::string_view::npos) break;
      line.remove_prefix(tab + 1);
    }
    return true;
  }
  bool ok() const { return ok_; }
  static std::string unescape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '\\' || i + 1 == s.size()) {
        out += s[i];
        continue;
      }
      char c = s[++i];
      out += c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
    }
    return out;
  }

private:
  std::string_view rest_;
  bool ok_ = true;
};

}  // namespace socd::store
