// The Sigma front end: YAML documents to Rule values (metadata, selections, condition), and the directory
// walk.
#include "socd/sigma.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "sigma_condition.h"
#include "sigma_detection.h"
#include "sigma_meta.h"
#include "socd/read_file.h"

namespace socd {
namespace sigma {
namespace {

bool is_yaml_number(std::string_view s) {
  if (s.empty()) return false;
  if (s == ".inf" || s == "-.inf" || s == "+.inf" || s == ".nan" || s == ".Inf" || s == ".NaN") return true;
  size_t i = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    bool hex = s[1] == 'x';
    for (i = 2; i < s.size(); ++i) {
      char c = s[i];
      bool ok = hex ? std::isxdigit(static_cast<unsigned char>(c)) : (c >= '0' && c <= '7');
      if (!ok) return false;
    }
    return true;
  }
  if (s[i] == '-' || s[i] == '+') ++i;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

bool collect_values(const YAML::Node& v, const std::string& key, std::vector<Scalar>& values,
                    Problem& problem, int& line) {
  if (v.IsSequence()) {
    for (const auto& item : v) {
      if (item.IsMap() || item.IsSequence()) {
        problem = {"bad-detection", "'" + key + "' lists a " + std::string(item.IsMap() ? "map" : "list") +
                                        " among its values; give plain values (strings, numbers)"};
        line = line_of(item);
        return false;
      }
      values.push_back(to_scalar(item));
    }
    return true;
  }
  if (v.IsMap()) {
    problem = {"bad-detection", "'" + key + "' has a map as its value; give a value or a list of values"};
    line = line_of(v);
    return false;
  }
  values.push_back(to_scalar(v));
  return true;
}

bool build_conjunction(const YAML::Node& map, const std::string& name, const FieldMapping& mapping,
                       Conjunction& conj, Problem& problem, int& line) {
  if (map.size() == 0) {
    problem = {"bad-detection", "selection '" + name + "' is an empty map; give at least one field"};
    line = line_of(map);
    return false;
  }
  std::set<std::string> seen;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar() && !kv.first.IsNull()) {
      problem = {"bad-detection", "selection '" + name + "' has a key that is not a field name"};
      line = line_of(kv.first);
      return false;
    }
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    if (!seen.insert(key).second) {
      problem = {"bad-detection", "selection '" + name + "' names '" + key +
                                      "' twice; put both values in one list (or use '|all')"};
      line = line_of(kv.first);
      return false;
    }
    std::vector<Scalar> values;
    if (!collect_values(kv.second, key, values, problem, line)) return false;
    if (!build_checks(key, values, line_of(kv.first), mapping, conj, problem)) {
      line = line_of(kv.first);
      return false;
    }
  }
  return true;
}

}  // namespace

Scalar to_scalar(const YAML::Node& node) {
  Scalar s;
  if (!node.IsDefined() || node.IsNull()) {
    s.kind = Scalar::Null;
    return s;
  }
  s.text = node.Scalar();
  const std::string& tag = node.Tag();
  if (tag == "?") {  // plain scalar: typed by its content
    const std::string& t = s.text;
    if (t == "true" || t == "True" || t == "TRUE" || t == "false" || t == "False" || t == "FALSE") {
      s.kind = Scalar::Bool;
    } else if (is_yaml_number(t)) {
      s.kind = Scalar::Number;
    }
  } else if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float") {
    if (is_yaml_number(s.text)) s.kind = Scalar::Number;
  } else if (tag == "tag:yaml.org,2002:bool") {
    s.kind = Scalar::Bool;
  } else if (tag == "tag:yaml.org,2002:null") {
    s.kind = Scalar::Null;
  }
  return s;
}

bool build_selection(const YAML::Node& node, const std::string& name, const FieldMapping& mapping,
                     Selection& out, Problem& problem, int& line) {
  out.name = name;
  out.alternatives.clear();
  if (node.IsMap()) {
    Conjunction conj;
    if (!build_conjunction(node, name, mapping, conj, problem, line)) return false;
    out.alternatives.push_back(std::move(conj));
    return true;
  }
  if (node.IsSequence()) {
    if (node.size() == 0) {
      problem = {"bad-detection", "selection '" + name + "' is an empty list; give keywords or maps"};
      line = line_of(node);
      return false;
    }
    std::vector<Scalar> keywords;
    int keyword_line = 0;
    size_t keyword_slot = 0;
    for (const auto& item : node) {
      if (item.IsMap()) {
        Conjunction conj;
        if (!build_conjunction(item, name, mapping, conj, problem, line)) return false;
        out.alternatives.push_back(std::move(conj));
      } else if (item.IsSequence()) {
        problem = {"bad-detection", "selection '" + name + "' has a list inside its list; flatten it"};
        line = line_of(item);
        return false;
      } else {
        if (keywords.empty()) {
          keyword_line = line_of(item);
          keyword_slot = out.alternatives.size();
        }
        keywords.push_back(to_scalar(item));
      }
    }
    if (!keywords.empty()) {
      Conjunction conj;
      if (!build_checks("", keywords, keyword_line, mapping, conj, problem)) {
        line = keyword_line;
        return false;
      }
      out.alternatives.insert(out.alternatives.begin() + static_cast<long>(keyword_slot), std::move(conj));
    }
    return true;
  }
  if (node.IsScalar()) {  // a single keyword
    Conjunction conj;
    if (!build_checks("", {to_scalar(node)}, line_of(node), mapping, conj, problem)) {
      line = line_of(node);
      return false;
    }
    out.alternatives.push_back(std::move(conj));
    return true;
  }
  problem = {"bad-detection",
             "selection '" + name + "' is empty; give a map of fields or a list of keywords"};
  line = line_of(node);
  return false;
}

}  // namespace sigma

namespace {

using sigma::line_of;

// A missing key gives an invalid node on which most calls throw: every helper asks IsDefined() first.
std::string text_of(const YAML::Node& node) {
  return node.IsDefined() && node.IsScalar() ? node.Scalar() : std::string();
}

const YAML::Node child(const YAML::Node& map, const char* key) {
  const YAML::Node& m = map;
  return m[key];
}

std::vector<std::string> list_of(const YAML::Node& node) {
  std::vector<std::string> out;
  if (!node.IsDefined()) return out;
  if (node.IsSequence()) {
    for (const auto& item : node)
      if (item.IsScalar()) out.push_back(item.Scalar());
  } else if (node.IsScalar()) {
    out.push_back(node.Scalar());
  }
  return out;
}

class DocumentLoader {
public:
  DocumentLoader(const std::string& file, const FieldMapping& mapping, RuleLoad& out)
      : file_(file), mapping_(mapping), out_(out) {}

  void skip(int line, std::string reason, std::string message) {
    out_.diagnostics.push_back({file_, line, std::move(reason), std::move(message)});
    ++out_.skipped;
  }
  void warn(int line, std::string reason, std::string message) {
    out_.diagnostics.push_back({file_, line, std::move(reason), std::move(message)});
  }

  void load(const YAML::Node& doc) {
    if (!doc.IsDefined() || doc.IsNull()) return;  // an empty document ("---" at the end) holds no rule
    int line = line_of(doc);
    if (!doc.IsMap()) {
      skip(line, "not-a-rule",
           "the document is not a Sigma rule (expected a map with title, logsource, detection)");
      return;
    }
    if (child(doc, "correlation").IsDefined()) {
      sigma::load_correlation(doc, file_, out_);
      return;
    }
    if (child(doc, "filter").IsDefined()) {
      sigma::load_filter(doc, file_, mapping_, out_);
      return;
    }
    const YAML::Node detection = child(doc, "detection");
    if (!detection.IsDefined()) {
      skip(line, "not-a-rule", "the document has no 'detection' section, so it is not a Sigma rule");
      return;
    }
    Rule rule;
    rule.file = file_;
    rule.line = line;
    rule.id = text_of(child(doc, "id"));
    rule.name = text_of(child(doc, "name"));
    rule.title = text_of(child(doc, "title"));
    rule.level = text_of(child(doc, "level"));
    rule.status = text_of(child(doc, "status"));
    rule.description = text_of(child(doc, "description"));
    rule.tags = list_of(child(doc, "tags"));
    rule.references = list_of(child(doc, "references"));
    const YAML::Node logsource = child(doc, "logsource");
    if (logsource.IsDefined() && logsource.IsMap()) {
      rule.logsource.product = text_of(child(logsource, "product"));
      rule.logsource.category = text_of(child(logsource, "category"));
      rule.logsource.service = text_of(child(logsource, "service"));
    } else {
      warn(line, "warning-no-logsource",
           "rule '" + rule.title + "' has no 'logsource' map; it is checked against every event");
    }
    int detection_line = line;
    for (const auto& kv : doc)
      if (kv.first.IsScalar() && kv.first.Scalar() == "detection") detection_line = line_of(kv.first);
    if (!build_detection(detection, detection_line, rule)) return;
    if (rule.id.empty())
      warn(line, "warning-no-id", "rule '" + rule.title + "' has no 'id'; alerts will name it by title only");
    out_.rules.push_back(std::move(rule));
  }

private:
  bool build_detection(const YAML::Node& detection, int detection_line, Rule& rule) {
    if (!detection.IsMap()) {
      skip(detection_line, "bad-detection", "'detection' must be a map of selections and a 'condition'");
      return false;
    }
    YAML::Node condition;
    int condition_line = detection_line;
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const auto& kv : detection) {
      std::string name = text_of(kv.first);
      if (!kv.first.IsScalar()) {
        skip(line_of(kv.first), "bad-detection", "a key of 'detection' is not a name");
        return false;
      }
      if (!seen.insert(name).second) {
        skip(line_of(kv.first), "bad-detection",
             "selection '" + name + "' is defined twice; rename one of them");
        return false;
      }
      if (name == "condition") {
        condition = kv.second;
        condition_line = line_of(kv.first);
        continue;
      }
      if (name == "timeframe") {  // the window of the old aggregations, which correlation rules replaced
        warn(line_of(kv.first), "warning-timeframe",
             "'timeframe' in a detection has no effect (aggregations are correlation rules in Sigma 2); "
             "remove it");
        continue;
      }
      Selection sel;
      sigma::Problem problem;
      int line = line_of(kv.first);
      if (!sigma::build_selection(kv.second, name, mapping_, sel, problem, line)) {
        skip(line, problem.reason, problem.message);
        return false;
      }
      names.push_back(name);
      rule.selections.push_back(std::move(sel));
    }
    if (!condition.IsDefined() || condition.IsNull()) {
      skip(condition_line, "bad-condition",
           "the detection has no 'condition'; add e.g. 'condition: selection'");
      return false;
    }
    std::vector<std::pair<std::string, int>> texts;
    if (condition.IsSequence()) {
      for (const auto& item : condition) {
        if (!item.IsScalar()) {
          skip(line_of(item), "bad-condition", "each entry of a condition list must be a condition text");
          return false;
        }
        texts.emplace_back(item.Scalar(), line_of(item));
      }
      if (texts.empty()) {
        skip(condition_line, "bad-condition", "the condition list is empty");
        return false;
      }
    } else if (condition.IsScalar()) {
      texts.emplace_back(condition.Scalar(), condition_line);
    } else {
      skip(condition_line, "bad-condition", "'condition' must be a text or a list of texts");
      return false;
    }
    std::vector<Condition> parsed;
    for (const auto& [text, line] : texts) {
      Condition c;
      std::string error;
      if (!sigma::parse_condition(text, names, c, error)) {
        skip(line, "bad-condition", error);
        return false;
      }
      parsed.push_back(std::move(c));
    }
    if (parsed.size() == 1) {
      rule.condition = std::move(parsed[0]);
    } else {  // a list of conditions: any of them
      rule.condition = Condition{};
      rule.condition.kind = Condition::Kind::Or;
      rule.condition.children = std::move(parsed);
    }
    return true;
  }

  const std::string& file_;
  const FieldMapping& mapping_;
  RuleLoad& out_;
};

void load_file(const std::string& path, const FieldMapping& mapping, RuleLoad& out) {
  std::string text;
  if (!read_file(path, text)) {
    out.diagnostics.push_back({path, 0, "read-error", std::string("cannot read the rule file: ") + std::strerror(errno)});
    ++out.skipped;
    return;
  }
  load_sigma_text(path, text, mapping, out);
}

void append(RuleLoad& into, RuleLoad&& from) {
  for (auto& r : from.rules) into.rules.push_back(std::move(r));
  for (auto& c : from.correlations) into.correlations.push_back(std::move(c));
  for (auto& f : from.filters) into.filters.push_back(std::move(f));
  for (auto& d : from.diagnostics) into.diagnostics.push_back(std::move(d));
  into.skipped += from.skipped;
}

bool is_rule_file(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".yml" || ext == ".yaml";
}

}  // namespace

// "---" and "..." at a line's start: a stream holds at most this + 1 documents.
static size_t yaml_document_markers(std::string_view text) {
  size_t markers = 0;
  for (size_t at = 0; at < text.size();) {
    std::string_view start = text.substr(at, 3);
    if (start == "---" || start == "...") ++markers;
    size_t newline = text.find('\n', at);
    if (newline == std::string_view::npos) break;
    at = newline + 1;
  }
  return markers;
}

// yaml-cpp 0.7's LoadAll never returns on a ',' where a top-level node should be (",x", "{a: b},", "---\n,x"):
// its parser yields empty documents forever without consuming the comma, the list of documents growing until
// memory runs out. A first pass counts the documents (events only, nothing built), bounded by the document
// markers the text holds; past the bound the text is refused, naming the line where the endless run starts.
static bool yaml_documents_end(std::string_view text, size_t markers, YAML::Mark& stuck) {
  struct Counter final : YAML::EventHandler {
    size_t documents = 0;
    YAML::Mark last;
    void OnDocumentStart(const YAML::Mark& mark) override {
      ++documents;
      last = mark;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  };
  std::stringstream in{std::string(text)};
  YAML::Parser parser(in);
  Counter counter;
  while (parser.HandleNextDocument(counter)) {
    if (counter.documents > markers + 1) {
      stuck = counter.last;
      return false;
    }
  }
  return true;
}

void load_sigma_text(const std::string& file, std::string_view text, const FieldMapping& mapping,
                     RuleLoad& out) {
  if (const void* nul = std::memchr(text.data(), '\0', text.size())) {
    size_t offset = static_cast<const char*>(nul) - text.data();
    int line = 1 + static_cast<int>(std::count(text.data(), text.data() + offset, '\n'));
    out.diagnostics.push_back({file, line, "yaml-error",
                               "not a YAML text file (NUL byte at offset " + std::to_string(offset) +
                                   "); rule files must be UTF-8 text"});
    ++out.skipped;
    return;
  }
  std::vector<YAML::Node> docs;
  auto refuse_extra_documents = [&](const YAML::Mark& stuck) {
    out.diagnostics.push_back({file, stuck.line + 1, "yaml-error",
                               "YAML syntax error: a ',' outside a flow collection (column " +
                                   std::to_string(stuck.column + 1) + "); remove it or quote the value"});
    ++out.skipped;
  };
  const size_t markers = yaml_document_markers(text);
  // The endless run needs a ',' (the only token yaml-cpp leaves unconsumed there): a text without one is loaded
  // at once, and the first pass (a second scan of the whole text) is kept for texts that have one.
  const bool may_run_endless = text.find(',') != std::string_view::npos;
  try {
    if (YAML::Mark stuck; may_run_endless && !yaml_documents_end(text, markers, stuck)) {
      refuse_extra_documents(stuck);
      return;
    }
    docs = YAML::LoadAll(std::string(text));
    if (!may_run_endless && docs.size() > markers + 1) {  // as the first pass refuses them
      refuse_extra_documents(docs[markers + 1].Mark());
      return;
    }
  } catch (const YAML::Exception& e) {
    out.diagnostics.push_back(
        {file, e.mark.line + 1, "yaml-error",
         "YAML syntax error: " + e.msg + " (column " + std::to_string(e.mark.column + 1) + ")"});
    ++out.skipped;
    return;
  } catch (const std::exception& e) {
    out.diagnostics.push_back(
        {file, 0, "yaml-error", std::string("cannot parse the file as YAML: ") + e.what()});
    ++out.skipped;
    return;
  }
  DocumentLoader loader(file, mapping, out);
  for (const auto& doc : docs) {
    try {
      loader.load(doc);
    } catch (const std::exception& e) {  // a shape yaml-cpp refuses to convert: skip the document, keep going
      loader.skip(line_of(doc), "bad-rule", std::string("cannot read the rule: ") + e.what());
    }
  }
}

void note_unreadable_directories(const DirectoryListing& listing, RuleLoad& out) {
  for (const auto& [dir, why] : listing.unreadable) {
    out.diagnostics.push_back(
        {dir, 0, "read-error", "cannot read the rule directory, the rules below it are not loaded: " + why});
    ++out.skipped;
  }
}

bool is_sigma_rule_file(const std::string& path) { return is_rule_file(path); }

bool rule_path_status(const std::string& path, std::filesystem::file_status& status, RuleLoad& out) {
  std::error_code ec;
  status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status)) return true;
  out.diagnostics.push_back(
      {path, 0, "read-error", "cannot read the rule path: " + (ec ? ec.message() : std::string("no such file"))});
  ++out.skipped;
  return false;
}

void load_sigma_path(const std::string& path, const FieldMapping& mapping, RuleLoad& out) {
  namespace fs = std::filesystem;
  fs::file_status st;
  if (!rule_path_status(path, st, out)) return;
  if (!fs::is_directory(st)) {
    load_file(path, mapping, out);
    return;
  }
  DirectoryListing listing = list_files(path, is_rule_file);
  note_unreadable_directories(listing, out);
  load_sigma_files(listing.files, mapping, out);
}

void load_sigma_files(const std::vector<std::string>& files, const FieldMapping& mapping, RuleLoad& out) {
  // yaml-cpp is the slow part of loading; files are independent, so they load in parallel and merge in order.
  std::vector<RuleLoad> loads(files.size());
  size_t workers =
      std::min<size_t>({std::max(1u, std::thread::hardware_concurrency()), 8, files.size() / 32 + 1});
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < files.size(); i = next++) load_file(files[i], mapping, loads[i]);
  };
  std::vector<std::thread> threads;
  for (size_t k = 1; k < workers; ++k) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  for (auto& l : loads) append(out, std::move(l));
}

}  // namespace socd
