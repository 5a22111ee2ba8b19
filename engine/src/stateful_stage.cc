// StatefulStage: correlation windows, thresholds and deduplication over the hits of the ordered stage, and
// the snapshot of their state. The semantics are described in socd/stateful.h.
#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <ctime>
#include <queue>
#include <unordered_map>

#include "socd/json.h"
#include "stateful_impl.h"

namespace socd {
namespace {

constexpr int64_t kNoTime = INT64_MIN;
// Version 2 adds the state of Sagan rules; a version 1 snapshot is read without it.
constexpr std::string_view kSnapshotMagic = "socd-stateful-state 2\n";
constexpr std::string_view kSnapshotMagic1 = "socd-stateful-state 1\n";

std::string stable_id(const std::string& material) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(material.data(), material.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < 16; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

std::string format_time(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int milli = static_cast<int>(ms - secs * 1000);
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
  return buf;
}

// A list of values as one key: each value's length, ':', the value ("" stands for an absent value as "-").
void append_key_part(std::string& key, const std::optional<std::string>& v) {
  if (!v) {
    key += "-;";
    return;
  }
  key += std::to_string(v->size());
  key += ':';
  key += *v;
}

std::vector<std::string> split_key(std::string_view key) {
  std::vector<std::string> parts;
  while (!key.empty()) {
    if (key.front() == '-') {
      parts.emplace_back();
      key.remove_prefix(std::min<size_t>(2, key.size()));
      continue;
    }
    size_t colon = key.find(':');
    if (colon == std::string_view::npos) break;
    size_t n = std::strtoull(std::string(key.substr(0, colon)).c_str(), nullptr, 10);
    if (colon + 1 + n > key.size()) break;
    parts.emplace_back(key.substr(colon + 1, n));
    key.remove_prefix(colon + 1 + n);
  }
  return parts;
}

// ---- snapshot encoding ----

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_i64(std::string& out, int64_t v) {
  put_varint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
void put_str(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

struct Reader {
  std::string_view in;
  bool ok = true;
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in.empty()) break;
      auto b = static_cast<unsigned char>(in.front());
      in.remove_prefix(1);
      v |= uint64_t{b & 0x7fu} << shift;
      if (b < 0x80) return v;
    }
    ok = false;
    return 0;
  }
  int64_t i64() {
    uint64_t z = varint();
    return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  std::string str() {
    uint64_t n = varint();
    if (!ok || n > in.size()) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
  size_t count() {  // a list length: every element takes at least a byte
    uint64_t n = varint();
    if (n > in.size()) ok = false;
    return ok ? static_cast<size_t>(n) : 0;
  }
};

// ---- state ----

struct Entry {
  int64_t time = 0;
  uint64_t seq = 0;
  uint64_t steps = 0;  // temporal types: the rules (bits) the hit counts for
  std::string value;   // value_count: the value (key-encoded when several fields)
};

struct RefItem {
  int64_t time = 0;
  std::string ref;
};

struct Group {
  std::string key;
  std::vector<Entry> entries;   // by (time, seq)
  int64_t start = 0, end = 0;  // a window deciding at its end
  uint64_t count = 0;          // such a window: hits counted
  uint64_t steps_seen = 0;     // such a window, temporal: rules seen
  int64_t first = kNoTime, last = kNoTime;
  std::vector<RefItem> refs;  // latest contributing alerts
  std::string source, host;  // of the latest hit
  uint64_t line = 0;
  int64_t expiry = 0;
  uint64_t token = 0;
};

struct PolicyGroup {
  std::string key;
  uint32_t node = 0;
  int64_t start = 0, end = 0;
  uint64_t passed = 0, suppressed = 0;
  int64_t first = kNoTime, last = kNoTime;  // suppressed alerts
  std::string first_ref;                    // the window's first alert
  std::string source, host;                 // of the latest suppressed alert
  uint64_t line = 0;
  int64_t expiry = 0;
  uint64_t token = 0;
};

// An xbit or flexbit: its name (with the namespace, "x:" or "f:"), the source and destination it was set
// for, and when it expires.
struct Bit {
  std::string key;  // name \x1f src \x1f dst
  std::string name, src, dst;
  int64_t expiry = 0;
  uint64_t token = 0;
};

constexpr int64_t kNever = INT64_MAX / 4;  // a bit set without an expiry

struct QueueItem {
  int64_t time;
  uint64_t token;
  std::string key;
  bool operator>(const QueueItem& o) const { return time != o.time ? time > o.time : token > o.token; }
};
using Queue = std::priority_queue<QueueItem, std::vector<QueueItem>, std::greater<>>;

template <class G>
struct Runtime {
  std::unordered_map<std::string, G> groups;
  Queue queue;
  void schedule(const G& g) { queue.push({g.expiry, g.token, g.key}); }
  // The group of a due queue item, or null for a stale item (re-queued when the group's expiry moved later).
  G* due(const QueueItem& item) {
    auto it = groups.find(item.key);
    if (it == groups.end() || it->second.token != item.token) return nullptr;
    if (it->second.expiry > item.time) {
      queue.push({it->second.expiry, item.token, item.key});
      return nullptr;
    }
    return &it->second;
  }
};

// What a correlation or policy sees of one alert.
struct Input {
  uint32_t node = 0;
  int64_t time = 0;
  const std::vector<std::optional<std::string>>* values = nullptr;
  uint64_t digest = 0;
  const std::string* ref = nullptr;
  const std::string* source = nullptr;
  const std::string* host = nullptr;
  uint64_t line = 0;
};

const char* type_name(Correlation::Type t) {
  switch (t) {
    case Correlation::Type::EventCount:
      return "event_count";
    case Correlation::Type::ValueCount:
      return "value_count";
    case Correlation::Type::Temporal:
      return "temporal";
    case Correlation::Type::TemporalOrdered:
      return "temporal_ordered";
  }
  return "";
}

}  // namespace

struct StatefulStage::State {
  explicit State(std::shared_ptr<const StatefulRules> r)
      : rules(std::move(r)), impl(rules->impl()), corr(impl.correlations.size()), pol(impl.policies.size()) {}

  std::shared_ptr<const StatefulRules> rules;
  const StatefulRules::Impl& impl;
  std::vector<Runtime<Group>> corr;
  std::vector<Runtime<PolicyGroup>> pol;
  // Sagan rules: threshold and after windows (PolicyGroup; after counts in `passed`), and the bits with
  // their live counts per (name, source), (name, destination) and name.
  Runtime<PolicyGroup> sagan_threshold, sagan_after;
  Runtime<Bit> bits;
  std::unordered_map<std::string, uint32_t> bits_by_src, bits_by_dst, bits_by_name;
  int64_t watermark = kNoTime;
  // The watermark follows event times: once one was seen, arrival times do not move it.
  bool event_clock = false;
  uint64_t seq = 0;
  uint64_t version = 0;
  StageCounters counters;

  int64_t horizon() const {  // windows ending before this are closed
    if (watermark == kNoTime) return kNoTime;
    return watermark - impl.settings.tolerance_ms;
  }

  // ---- correlations ----

  void feed(const Input& in, bool late, std::vector<StageAlert>& out) {
    for (const CorrelationInput& ci : impl.inputs[in.node]) {
      const CompiledCorrelation& c = impl.correlations[ci.correlation];
      std::string key;
      bool missing = false;
      for (int slot : ci.key_slots) {
        const std::optional<std::string>* v =
            slot >= 0 && static_cast<size_t>(slot) < in.values->size() ? &(*in.values)[slot] : nullptr;
        if (!v || !v->has_value()) {
          missing = true;
          break;
        }
        append_key_part(key, **v);
      }
      std::string value;
      for (int slot : ci.value_slots) {
        const std::optional<std::string>* v =
            slot >= 0 && static_cast<size_t>(slot) < in.values->size() ? &(*in.values)[slot] : nullptr;
        if (!v || !v->has_value()) {
          missing = true;
          break;
        }
        if (ci.value_slots.size() == 1)
          value = **v;
        else
          append_key_part(value, **v);
      }
      if (missing) {
        ++counters.missing_fields;
        continue;
      }
      if (c.sliding)
        slide(ci, c, key, std::move(value), in, late, out);
      else
        window(ci, c, key, std::move(value), in, late, out);
    }
  }

  Group* make_group(Runtime<Group>& rt, const CompiledCorrelation& c, const std::string& key, int64_t expiry,
                    std::vector<StageAlert>& out) {
    if (rt.groups.size() >= impl.settings.max_keys) evict(rt, c, out);
    Group& g = rt.groups[key];
    g.key = key;
    g.token = ++seq;
    g.expiry = expiry;
    rt.schedule(g);
    return &g;
  }

  void evict(Runtime<Group>& rt, const CompiledCorrelation& c, std::vector<StageAlert>& out) {
    while (!rt.queue.empty()) {
      QueueItem item = rt.queue.top();
      rt.queue.pop();
      auto it = rt.groups.find(item.key);
      if (it == rt.groups.end() || it->second.token != item.token) continue;
      if (it->second.expiry > item.time) {
        rt.queue.push({it->second.expiry, item.token, item.key});
        continue;
      }
      rt.groups.erase(it);
      ++counters.evicted;
      ++version;
      return;
    }
  }

  void add_ref(Group& g, const Input& in) {
    g.refs.push_back({in.time, *in.ref});
    if (g.refs.size() > impl.settings.max_alert_ids)
      g.refs.erase(g.refs.begin(), g.refs.end() - static_cast<ptrdiff_t>(impl.settings.max_alert_ids));
    g.source = *in.source;
    g.host = *in.host;
    g.line = in.line;
  }

  static void insert_sorted(std::vector<Entry>& entries, Entry e) {
    auto at = std::upper_bound(entries.begin(), entries.end(), e, [](const Entry& a, const Entry& b) {
      return a.time != b.time ? a.time < b.time : a.seq < b.seq;
    });
    entries.insert(at, std::move(e));
  }

  // A correlation with lower bounds only: counts within `timespan` of the group's latest hit, fires at once.
  void slide(const CorrelationInput& ci, const CompiledCorrelation& c, const std::string& key,
             std::string value, const Input& in, bool late, std::vector<StageAlert>& out) {
    Runtime<Group>& rt = corr[ci.correlation];
    const int64_t span = c.def.timespan_ms;
    auto found = rt.groups.find(key);
    Group* g = found != rt.groups.end() ? &found->second : make_group(rt, c, key, in.time + span, out);
    const int64_t newest = g->last == kNoTime ? in.time : std::max(g->last, in.time);
    if (in.time < newest - span) {  // older than the window the group holds
      ++counters.late_unapplied;
      return;
    }
    Entry e{in.time, ++seq, ci.steps, std::move(value)};
    switch (c.def.type) {
      case Correlation::Type::EventCount:
        insert_sorted(g->entries, std::move(e));
        break;
      case Correlation::Type::ValueCount:
      case Correlation::Type::Temporal: {  // one entry per value (rule): its latest hit
        bool by_value = c.def.type == Correlation::Type::ValueCount;
        auto same = std::find_if(g->entries.begin(), g->entries.end(), [&](const Entry& x) {
          return by_value ? x.value == e.value : x.steps == e.steps;
        });
        if (same != g->entries.end()) {
          if (same->time > e.time) break;
          g->entries.erase(same);
        }
        insert_sorted(g->entries, std::move(e));
        break;
      }
      case Correlation::Type::TemporalOrdered:
        insert_sorted(g->entries, std::move(e));
        if (g->entries.size() > impl.settings.max_entries_per_key) {
          const size_t over = g->entries.size() - impl.settings.max_entries_per_key;
          g->entries.erase(g->entries.begin(), g->entries.begin() + static_cast<ptrdiff_t>(over));
          counters.entries_dropped += over;
        }
        break;
    }
    g->last = newest;
    auto in_window = std::find_if(g->entries.begin(), g->entries.end(),
                                  [&](const Entry& x) { return x.time >= newest - span; });
    g->entries.erase(g->entries.begin(), in_window);
    g->first = g->entries.empty() ? in.time : g->entries.front().time;
    g->expiry = newest + span;
    add_ref(*g, in);
    ++version;
    (void)late;

    uint64_t n = 0;
    uint64_t seen = 0;
    switch (c.def.type) {
      case Correlation::Type::EventCount:
      case Correlation::Type::ValueCount:
        n = g->entries.size();
        break;
      case Correlation::Type::Temporal:
        for (const Entry& x : g->entries) seen |= x.steps;
        n = static_cast<uint64_t>(std::popcount(seen));
        break;
      case Correlation::Type::TemporalOrdered: {
        const size_t steps = c.step_nodes.size();
        uint64_t reached = 0;
        for (const Entry& x : g->entries)
          for (size_t k = steps; k-- > 0;)
            if ((x.steps >> k & 1) && (k == 0 || (reached >> (k - 1) & 1))) reached |= uint64_t{1} << k;
        while (n < steps && (reached >> n & 1)) ++n;
        seen = n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
        break;
      }
    }
    if (!condition_holds(c, n)) return;
    Group done = std::move(*g);
    rt.groups.erase(key);
    fire(c, done, n, seen, newest - span, out);
  }

  // A correlation with an upper bound: a window opens with a group's first hit, lasts `timespan`, and decides
  // when it closes.
  void window(const CorrelationInput& ci, const CompiledCorrelation& c, const std::string& key,
              std::string value, const Input& in, bool late, std::vector<StageAlert>& out) {
    Runtime<Group>& rt = corr[ci.correlation];
    const int64_t span = c.def.timespan_ms;
    auto found = rt.groups.find(key);
    Group* g = found != rt.groups.end() ? &found->second : nullptr;
    if (g && in.time > g->end) {  // its window is over (the watermark has not closed it yet): decide it now
      Group done = std::move(*g);
      rt.groups.erase(key);
      close_window(c, done, out);
      g = nullptr;
    }
    if (!g) {
      if (late) {  // a late hit does not open a window: it would close at once on part of its events
        ++counters.late_unapplied;
        return;
      }
      g = make_group(rt, c, key, in.time + span, out);
      g->start = in.time;
      g->end = in.time + span;
    } else if (in.time < g->start) {
      if (g->last - in.time > span) {
        ++counters.late_unapplied;
        return;
      }
      g->start = in.time;
      g->end = in.time + span;
      g->expiry = g->end;
      rt.schedule(*g);
    }
    ++g->count;
    switch (c.def.type) {
      case Correlation::Type::EventCount:
        break;
      case Correlation::Type::ValueCount:
        if (g->entries.size() < c.cap && std::none_of(g->entries.begin(), g->entries.end(),
                                                      [&](const Entry& x) { return x.value == value; }))
          g->entries.push_back({in.time, ++seq, 0, std::move(value)});
        break;
      case Correlation::Type::Temporal:
      case Correlation::Type::TemporalOrdered:
        g->steps_seen |= ci.steps;
        break;
    }
    g->first = g->first == kNoTime ? in.time : std::min(g->first, in.time);
    g->last = g->last == kNoTime ? in.time : std::max(g->last, in.time);
    add_ref(*g, in);
    ++version;
  }

  static bool condition_holds(const CompiledCorrelation& c, uint64_t n) {
    if (c.def.condition.empty()) return n >= c.required;
    return std::all_of(c.def.condition.begin(), c.def.condition.end(),
                       [&](const CountBound& b) { return b.holds(n); });
  }

  void close_window(const CompiledCorrelation& c, Group& g, std::vector<StageAlert>& out) {
    ++version;
    uint64_t n = 0;
    switch (c.def.type) {
      case Correlation::Type::EventCount:
        n = g.count;
        break;
      case Correlation::Type::ValueCount:
        n = g.entries.size();
        break;
      case Correlation::Type::Temporal:
      case Correlation::Type::TemporalOrdered:
        n = static_cast<uint64_t>(std::popcount(g.steps_seen));
        break;
    }
    if (condition_holds(c, n)) fire(c, g, n, g.steps_seen, g.start, out);
  }

  void fire(const CompiledCorrelation& c, const Group& g, uint64_t n, uint64_t steps, int64_t window_start,
            std::vector<StageAlert>& out) {
    const uint32_t node = c.node;
    StageAlert a;
    a.rule_id = c.rule_id;
    a.level = impl.node_level[node];
    a.host = g.host;
    a.time_ms = g.last;
    a.line = g.line;
    std::string last_ref = g.refs.empty() ? std::string() : g.refs.back().ref;
    a.id = stable_id("correlation\x1f" + c.rule_id + '\x1f' + g.key + '\x1f' + last_ref + '\x1f' +
                     std::to_string(g.first) + '\x1f' + std::to_string(g.last));
    std::vector<std::string> key_values = split_key(g.key);
    std::string& j = a.json;
    j = "{\"id\":";
    append_json_string(j, a.id);
    j += ',';
    j += impl.node_rule_json[node];
    j += ",\"time\":";
    append_json_string(j, format_time(g.last));
    j += ",\"correlation\":{\"type\":\"";
    j += type_name(c.def.type);
    j += "\",\"timespan\":";
    append_json_string(j, c.def.timespan);
    j += ",\"group\":{";
    for (size_t i = 0; i < c.def.group_by.size() && i < key_values.size(); ++i) {
      if (i) j += ',';
      append_json_string(j, c.def.group_by[i]);
      j += ':';
      append_json_string(j, key_values[i]);
    }
    j += "},\"count\":" + std::to_string(n);
    j += ",\"first\":";
    append_json_string(j, format_time(g.first));
    j += ",\"last\":";
    append_json_string(j, format_time(g.last));
    if (c.def.type == Correlation::Type::ValueCount) {
      j += ",\"values\":[";
      bool comma = false;
      for (const Entry& e : g.entries) {
        if (comma) j += ',';
        comma = true;
        if (c.def.value_fields.size() == 1) {
          append_json_string(j, e.value);
        } else {
          j += '[';
          std::vector<std::string> parts = split_key(e.value);
          for (size_t i = 0; i < parts.size(); ++i) {
            if (i) j += ',';
            append_json_string(j, parts[i]);
          }
          j += ']';
        }
      }
      j += ']';
    }
    if (c.def.type == Correlation::Type::Temporal || c.def.type == Correlation::Type::TemporalOrdered) {
      j += ",\"rules\":[";
      bool comma = false;
      for (size_t k = 0; k < c.def.rules.size(); ++k)
        if (steps >> k & 1) {
          if (comma) j += ',';
          comma = true;
          append_json_string(j, c.def.rules[k]);
        }
      j += ']';
    }
    j += ",\"alerts\":[";
    bool comma = false;
    for (const RefItem& r : g.refs)
      if (r.time >= window_start) {
        if (comma) j += ',';
        comma = true;
        append_json_string(j, r.ref);
      }
    j += "]}";
    if (!g.host.empty()) {
      j += ",\"host\":";
      append_json_string(j, g.host);
    }
    j += ",\"source\":{\"file\":";
    append_json_string(j, g.source);
    j += ",\"line\":" + std::to_string(g.line) + "}}";

    // The correlation's own alert: emitted unless only a correlation over it generates; then it feeds those.
    std::vector<std::optional<std::string>> values(key_values.begin(), key_values.end());
    values.resize(c.def.group_by.size());
    Input in;
    in.node = node;
    in.time = g.last;
    in.values = &values;
    in.ref = &a.id;
    in.source = &g.source;
    in.host = &g.host;
    in.line = g.line;
    Verdict v = verdict(in, out);
    if (v == Verdict::Pass) {
      ++counters.correlations;
      out.push_back(a);
    }
    StageAlert keep = std::move(a);  // the refs in `in` point into it
    in.ref = &keep.id;
    feed(in, false, out);
  }

  // ---- policies ----

  Verdict verdict(const Input& in, std::vector<StageAlert>& out) {
    if (!impl.emits[in.node]) {
      ++counters.consumed;
      return Verdict::Consumed;
    }
    for (const auto* use : {&impl.dedup[in.node], &impl.threshold[in.node]}) {
      if (!use->has_value()) continue;
      if (!admit(**use, in, out)) {
        ++counters.suppressed;
        return Verdict::Suppressed;
      }
    }
    return Verdict::Pass;
  }

  bool admit(const PolicyInput& use, const Input& in, std::vector<StageAlert>& out) {
    const CompiledPolicy& p = impl.policies[use.policy];
    Runtime<PolicyGroup>& rt = pol[use.policy];
    std::string key = std::to_string(in.node) + '/';
    if (use.whole_event) {
      char hex[20];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(in.digest));
      append_key_part(key, std::string(hex));
    } else {
      static const std::optional<std::string> absent;
      for (int slot : use.key_slots)
        append_key_part(
            key, slot >= 0 && static_cast<size_t>(slot) < in.values->size() ? (*in.values)[slot] : absent);
    }
    auto found = rt.groups.find(key);
    PolicyGroup* g = found != rt.groups.end() ? &found->second : nullptr;
    if (g && in.time > g->end) {
      PolicyGroup done = std::move(*g);
      rt.groups.erase(key);
      summarise(p, done, out);
      g = nullptr;
    }
    if (!g) {
      if (rt.groups.size() >= impl.settings.max_keys) evict_policy(rt, p, out);
      g = &rt.groups[key];
      g->key = key;
      g->node = in.node;
      g->token = ++seq;
      g->start = in.time;
      g->end = in.time + p.def.window_ms;
      g->expiry = g->end;
      g->first_ref = *in.ref;
      rt.schedule(*g);
    }
    ++version;
    if (g->passed < p.def.limit) {
      ++g->passed;
      return true;
    }
    ++g->suppressed;
    g->first = g->first == kNoTime ? in.time : std::min(g->first, in.time);
    g->last = g->last == kNoTime ? in.time : std::max(g->last, in.time);
    g->source = *in.source;
    g->host = *in.host;
    g->line = in.line;
    return false;
  }

  void evict_policy(Runtime<PolicyGroup>& rt, const CompiledPolicy& p, std::vector<StageAlert>& out) {
    while (!rt.queue.empty()) {
      QueueItem item = rt.queue.top();
      rt.queue.pop();
      auto it = rt.groups.find(item.key);
      if (it == rt.groups.end() || it->second.token != item.token) continue;
      if (it->second.expiry > item.time) {
        rt.queue.push({it->second.expiry, item.token, item.key});
        continue;
      }
      PolicyGroup done = std::move(it->second);
      rt.groups.erase(it);
      ++counters.evicted;
      summarise(p, done, out);  // what it suppressed is reported early rather than lost
      return;
    }
  }

  void summarise(const CompiledPolicy& p, const PolicyGroup& g, std::vector<StageAlert>& out) {
    ++version;
    if (g.suppressed == 0) return;
    StageAlert a;
    a.rule_id = impl.node_rule_id[g.node];
    a.level = impl.node_level[g.node];
    a.host = g.host;
    a.time_ms = g.last;
    a.line = g.line;
    const bool dedup = p.def.kind == SuppressionPolicy::Kind::Dedup;
    a.id = stable_id(std::string(dedup ? "dedup" : "threshold") + '\x1f' + a.rule_id + '\x1f' + g.key +
                     '\x1f' + g.first_ref + '\x1f' + std::to_string(g.start));
    std::string& j = a.json;
    j = "{\"id\":";
    append_json_string(j, a.id);
    j += ',';
    j += impl.node_rule_json[g.node];
    j += ",\"time\":";
    append_json_string(j, format_time(g.last));
    j += ",\"suppression\":{\"kind\":\"";
    j += dedup ? "dedup" : "threshold";
    j += "\",\"window\":";
    append_json_string(j, p.def.window);
    j += ",\"key\":{";
    std::vector<std::string> parts = split_key(std::string_view(g.key).substr(g.key.find('/') + 1));
    if (p.def.by.empty() && dedup) {
      j += "\"event_digest\":";
      append_json_string(j, parts.empty() ? std::string() : parts[0]);
    } else {
      for (size_t i = 0; i < p.def.by.size() && i < parts.size(); ++i) {
        if (i) j += ',';
        append_json_string(j, p.def.by[i]);
        j += ':';
        append_json_string(j, parts[i]);
      }
    }
    j += "},\"passed\":" + std::to_string(g.passed) + ",\"suppressed\":" + std::to_string(g.suppressed);
    j += ",\"first\":";
    append_json_string(j, format_time(g.first));
    j += ",\"last\":";
    append_json_string(j, format_time(g.last));
    j += ",\"first_alert\":";
    append_json_string(j, g.first_ref);
    j += '}';
    if (!g.host.empty()) {
      j += ",\"host\":";
      append_json_string(j, g.host);
    }
    j += ",\"source\":{\"file\":";
    append_json_string(j, g.source);
    j += ",\"line\":" + std::to_string(g.line) + "}}";
    ++counters.summaries;
    out.push_back(std::move(a));
  }

  // ---- Sagan rules ----

  // Applies a Sagan rule's options to a match; false when the match ends here (`v` says how).
  bool sagan_match(const SaganRule& r, const SaganFacts& f, const Input& in, std::vector<StageAlert>& out,
                   Verdict& v) {
    if (f.normalized == 1) ++counters.sagan_normalized;
    if (f.normalized == 2) ++counters.sagan_not_normalized;
    if (f.unmet) {
      ++counters.sagan_unmet;
      v = Verdict::Unmet;
      return false;
    }
    const int64_t now = watermark == kNoTime ? in.time : std::max(watermark, in.time);
    if (!r.bits.empty()) purge_bits(now);
    for (const SaganBits& b : r.bits) {
      if (b.op != SaganBits::Op::IsSet && b.op != SaganBits::Op::IsNotSet) continue;
      if (bits_hold(b, f) != (b.op == SaganBits::Op::IsSet)) {
        ++counters.sagan_unmet;
        v = Verdict::Unmet;
        return false;
      }
    }
    if (r.after.kind == SaganCount::Kind::After && !sagan_after_admit(r, in, f)) {
      ++counters.sagan_pending;
      v = Verdict::Unmet;
      return false;
    }
    if ((r.threshold.kind == SaganCount::Kind::Limit || r.threshold.kind == SaganCount::Kind::Suppress) &&
        !sagan_threshold_admit(r, in, f, out)) {
      ++counters.suppressed;
      v = Verdict::Suppressed;
      return false;
    }
    for (const SaganBits& b : r.bits) {
      if (b.op == SaganBits::Op::Set) set_bits(b, f, now, out);
      if (b.op == SaganBits::Op::Unset) unset_bits(b, f);
    }
    return true;
  }

  // node/ + the tracked values; false when a track by_username has no user name (the option does not apply).
  static bool sagan_key(const SaganCount& c, uint32_t node, const SaganFacts& f, std::string& key) {
    if (c.username && f.username.empty()) return false;
    key = std::to_string(node) + '/';
    if (c.src) append_key_part(key, f.src);
    if (c.dst) append_key_part(key, f.dst);
    if (c.username) append_key_part(key, f.username);
    if (c.string) append_key_part(key, std::to_string(f.message_digest));
    if (c.src_port) append_key_part(key, f.src_port < 0 ? std::string() : std::to_string(f.src_port));
    if (c.dst_port) append_key_part(key, f.dst_port < 0 ? std::string() : std::to_string(f.dst_port));
    return true;
  }

  PolicyGroup& new_sagan_group(Runtime<PolicyGroup>& rt, bool threshold, const std::string& key,
                               const Input& in, int64_t window, std::vector<StageAlert>& out) {
    if (rt.groups.size() >= impl.settings.max_keys) evict_sagan(rt, threshold, out);
    PolicyGroup& g = rt.groups[key];
    g.key = key;
    g.node = in.node;
    g.token = ++seq;
    g.start = in.time;
    g.end = in.time + window;
    g.expiry = g.end;
    g.first_ref = *in.ref;
    rt.schedule(g);
    return g;
  }

  bool sagan_after_admit(const SaganRule& r, const Input& in, const SaganFacts& f) {
    std::string key;
    if (!sagan_key(r.after, in.node, f, key)) return true;
    auto found = sagan_after.groups.find(key);
    PolicyGroup* g = found != sagan_after.groups.end() ? &found->second : nullptr;
    if (g && in.time > g->end) {
      sagan_after.groups.erase(found);
      g = nullptr;
    }
    std::vector<StageAlert> none;
    if (!g) g = &new_sagan_group(sagan_after, false, key, in, r.after.window_ms, none);
    ++g->passed;
    ++version;
    return g->passed > r.after.count;
  }

  bool sagan_threshold_admit(const SaganRule& r, const Input& in, const SaganFacts& f,
                             std::vector<StageAlert>& out) {
    const SaganCount& c = r.threshold;
    std::string key;
    if (!sagan_key(c, in.node, f, key)) return true;
    auto found = sagan_threshold.groups.find(key);
    PolicyGroup* g = found != sagan_threshold.groups.end() ? &found->second : nullptr;
    if (g && in.time > g->end) {
      PolicyGroup done = std::move(*g);
      sagan_threshold.groups.erase(found);
      summarise_sagan(done, out);
      g = nullptr;
    }
    if (!g) g = &new_sagan_group(sagan_threshold, true, key, in, c.window_ms, out);
    if (c.kind == SaganCount::Kind::Suppress && in.time + c.window_ms > g->end) {
      g->end = in.time + c.window_ms;  // every alert pushes the end (the queue re-schedules it when due)
      g->expiry = g->end;
    }
    ++version;
    if (g->passed < c.count) {
      ++g->passed;
      return true;
    }
    ++g->suppressed;
    g->first = g->first == kNoTime ? in.time : std::min(g->first, in.time);
    g->last = g->last == kNoTime ? in.time : std::max(g->last, in.time);
    g->source = *in.source;
    g->host = *in.host;
    g->line = in.line;
    return false;
  }

  void evict_sagan(Runtime<PolicyGroup>& rt, bool threshold, std::vector<StageAlert>& out) {
    while (!rt.queue.empty()) {
      QueueItem item = rt.queue.top();
      rt.queue.pop();
      auto it = rt.groups.find(item.key);
      if (it == rt.groups.end() || it->second.token != item.token) continue;
      if (it->second.expiry > item.time) {
        rt.queue.push({it->second.expiry, item.token, item.key});
        continue;
      }
      PolicyGroup done = std::move(it->second);
      rt.groups.erase(it);
      ++counters.evicted;
      ++version;
      if (threshold) summarise_sagan(done, out);
      return;
    }
  }

  void summarise_sagan(const PolicyGroup& g, std::vector<StageAlert>& out) {
    ++version;
    if (g.suppressed == 0 || g.node >= impl.rule_count || impl.sagan_of[g.node] < 0) return;
    const SaganCount& c = impl.sagan[impl.sagan_of[g.node]].threshold;
    StageAlert a;
    a.rule_id = impl.node_rule_id[g.node];
    a.level = impl.node_level[g.node];
    a.host = g.host;
    a.time_ms = g.last;
    a.line = g.line;
    a.id = stable_id(std::string("sagan-threshold") + '\x1f' + a.rule_id + '\x1f' + g.key + '\x1f' +
                     g.first_ref + '\x1f' + std::to_string(g.start));
    std::string& j = a.json;
    j = "{\"id\":";
    append_json_string(j, a.id);
    j += ',';
    j += impl.node_rule_json[g.node];
    j += ",\"time\":";
    append_json_string(j, format_time(g.last));
    j += ",\"suppression\":{\"kind\":\"sagan-threshold\",\"type\":";
    j += c.kind == SaganCount::Kind::Suppress ? "\"suppress\"" : "\"limit\"";
    j += ",\"threshold\":";
    append_json_string(j, c.text);
    j += ",\"window\":";
    append_json_string(j, std::to_string(c.window_ms / 1000) + "s");
    j += ",\"key\":{";
    std::vector<std::string> parts = split_key(std::string_view(g.key).substr(g.key.find('/') + 1));
    std::vector<const char*> names;
    if (c.src) names.push_back("src");
    if (c.dst) names.push_back("dst");
    if (c.username) names.push_back("username");
    if (c.string) names.push_back("message_digest");
    if (c.src_port) names.push_back("src_port");
    if (c.dst_port) names.push_back("dst_port");
    for (size_t i = 0; i < names.size() && i < parts.size(); ++i) {
      if (i) j += ',';
      append_json_string(j, names[i]);
      j += ':';
      append_json_string(j, parts[i]);
    }
    j += "},\"passed\":" + std::to_string(g.passed) + ",\"suppressed\":" + std::to_string(g.suppressed);
    j += ",\"first\":";
    append_json_string(j, format_time(g.first));
    j += ",\"last\":";
    append_json_string(j, format_time(g.last));
    j += ",\"first_alert\":";
    append_json_string(j, g.first_ref);
    j += '}';
    if (!g.host.empty()) {
      j += ",\"host\":";
      append_json_string(j, g.host);
    }
    j += ",\"source\":{\"file\":";
    append_json_string(j, g.source);
    j += ",\"line\":" + std::to_string(g.line) + "}}";
    ++counters.summaries;
    out.push_back(std::move(a));
  }

  // -- bits --

  static std::string bit_name(const SaganBits& b, const std::string& name) {
    return (b.flex ? "f:" : "x:") + name;
  }
  static std::string bit_key(const std::string& name, const std::string& src, const std::string& dst) {
    return name + '\x1f' + src + '\x1f' + dst;
  }

  static void count_up(std::unordered_map<std::string, uint32_t>& m, const std::string& k) { ++m[k]; }
  static void count_down(std::unordered_map<std::string, uint32_t>& m, const std::string& k) {
    auto it = m.find(k);
    if (it != m.end() && --it->second == 0) m.erase(it);
  }

  void add_bit(Bit b) {
    count_up(bits_by_src, b.name + '\x1f' + b.src);
    count_up(bits_by_dst, b.name + '\x1f' + b.dst);
    count_up(bits_by_name, b.name);
    bits.schedule(b);
    std::string key = b.key;
    bits.groups[key] = std::move(b);
  }

  void remove_bit(std::unordered_map<std::string, Bit>::iterator it) {
    const Bit& b = it->second;
    count_down(bits_by_src, b.name + '\x1f' + b.src);
    count_down(bits_by_dst, b.name + '\x1f' + b.dst);
    count_down(bits_by_name, b.name);
    bits.groups.erase(it);
    ++version;
  }

  // Drops the bits that expired before `now`.
  void purge_bits(int64_t now) {
    while (!bits.queue.empty() && bits.queue.top().time < now) {
      QueueItem item = bits.queue.top();
      bits.queue.pop();
      auto it = bits.groups.find(item.key);
      if (it == bits.groups.end() || it->second.token != item.token) continue;
      if (it->second.expiry > item.time) {  // refreshed since
        bits.queue.push({it->second.expiry, item.token, item.key});
        continue;
      }
      remove_bit(it);
    }
  }

  bool bit_present(const SaganBits& b, const std::string& name, const SaganFacts& f) const {
    const std::string n = bit_name(b, name);
    switch (b.dir) {
      case SaganBits::Dir::Src:
        return bits_by_src.count(n + '\x1f' + f.src) != 0;
      case SaganBits::Dir::Dst:
        return bits_by_dst.count(n + '\x1f' + f.dst) != 0;
      case SaganBits::Dir::Both:
        return bits.groups.count(bit_key(n, f.src, f.dst)) != 0;
      case SaganBits::Dir::Reverse:
        return bits.groups.count(bit_key(n, f.dst, f.src)) != 0;
      case SaganBits::Dir::Any:
        return bits_by_name.count(n) != 0;
    }
    return false;
  }

  // isset: any of the names ("a|b"), all of them ("a&b").
  bool bits_hold(const SaganBits& b, const SaganFacts& f) const {
    for (const auto& name : b.names) {
      bool present = bit_present(b, name, f);
      if (b.all && !present) return false;
      if (!b.all && present) return true;
    }
    return b.all;
  }

  void set_bits(const SaganBits& b, const SaganFacts& f, int64_t now, std::vector<StageAlert>& out) {
    (void)out;
    for (const auto& name : b.names) {
      Bit bit;
      bit.name = bit_name(b, name);
      bit.src = f.src;
      bit.dst = f.dst;
      bit.key = bit_key(bit.name, bit.src, bit.dst);
      bit.expiry = b.expire_ms > 0 ? now + b.expire_ms : kNever;
      ++counters.bits_set;
      ++version;
      auto it = bits.groups.find(bit.key);
      if (it != bits.groups.end()) {  // set again: its expiry starts again
        const bool earlier = bit.expiry < it->second.expiry;
        it->second.expiry = bit.expiry;
        if (earlier) bits.schedule(it->second);  // (a later one is re-queued when the old item comes due)
        continue;
      }
      if (bits.groups.size() >= impl.settings.max_keys) evict_bit();
      bit.token = ++seq;
      add_bit(std::move(bit));
    }
  }

  void evict_bit() {
    while (!bits.queue.empty()) {
      QueueItem item = bits.queue.top();
      bits.queue.pop();
      auto it = bits.groups.find(item.key);
      if (it == bits.groups.end() || it->second.token != item.token) continue;
      if (it->second.expiry > item.time) {
        bits.queue.push({it->second.expiry, item.token, item.key});
        continue;
      }
      remove_bit(it);
      ++counters.evicted;
      return;
    }
  }

  void unset_bits(const SaganBits& b, const SaganFacts& f) {
    for (const auto& name : b.names) {
      const std::string n = bit_name(b, name);
      if (b.dir == SaganBits::Dir::Both || b.dir == SaganBits::Dir::Reverse) {
        auto it = bits.groups.find(b.dir == SaganBits::Dir::Both ? bit_key(n, f.src, f.dst) : bit_key(n, f.dst, f.src));
        if (it != bits.groups.end()) {
          remove_bit(it);
          ++counters.bits_unset;
        }
        continue;
      }
      if (!bits_by_name.count(n)) continue;
      for (auto it = bits.groups.begin(); it != bits.groups.end();) {
        const Bit& x = it->second;
        bool match = x.name == n && (b.dir == SaganBits::Dir::Any || (b.dir == SaganBits::Dir::Src && x.src == f.src) ||
                                     (b.dir == SaganBits::Dir::Dst && x.dst == f.dst));
        auto next = std::next(it);
        if (match) {
          remove_bit(it);
          ++counters.bits_unset;
        }
        it = next;
      }
    }
  }

  // ---- time ----

  // Closes, in order of their end, the windows that end before `limit` (everything with `all`).
  void close_due(int64_t limit, bool all, std::vector<StageAlert>& out) {
    for (;;) {
      // The runtime whose next item is due first (correlations before policies on a tie).
      int64_t best = INT64_MAX;
      int which = -1;
      bool is_policy = false;
      for (size_t i = 0; i < corr.size(); ++i)
        if (!corr[i].queue.empty() && corr[i].queue.top().time < best)
          best = corr[i].queue.top().time, which = int(i);
      for (size_t i = 0; i < pol.size(); ++i)
        if (!pol[i].queue.empty() && pol[i].queue.top().time < best)
          best = pol[i].queue.top().time, which = int(i), is_policy = true;
      // Sagan thresholds and afters (after correlations and policies on a tie).
      Runtime<PolicyGroup>* sagan_rt = nullptr;
      for (auto* rt : {&sagan_threshold, &sagan_after})
        if (!rt->queue.empty() && rt->queue.top().time < best) best = rt->queue.top().time, sagan_rt = rt;
      if ((which < 0 && !sagan_rt) || (!all && !(best < limit))) return;
      if (sagan_rt) {
        QueueItem item = sagan_rt->queue.top();
        sagan_rt->queue.pop();
        PolicyGroup* g = all ? find_live(*sagan_rt, item) : sagan_rt->due(item);
        if (!g) continue;
        PolicyGroup done = std::move(*g);
        sagan_rt->groups.erase(item.key);
        ++version;
        if (sagan_rt == &sagan_threshold) summarise_sagan(done, out);
        continue;
      }
      if (is_policy) {
        auto& rt = pol[which];
        QueueItem item = rt.queue.top();
        rt.queue.pop();
        PolicyGroup* g = all ? find_live(rt, item) : rt.due(item);
        if (!g) continue;
        PolicyGroup done = std::move(*g);
        rt.groups.erase(item.key);
        summarise(impl.policies[which], done, out);
      } else {
        auto& rt = corr[which];
        QueueItem item = rt.queue.top();
        rt.queue.pop();
        Group* g = all ? find_live(rt, item) : rt.due(item);
        if (!g) continue;
        Group done = std::move(*g);
        rt.groups.erase(item.key);
        const CompiledCorrelation& c = impl.correlations[which];
        if (c.sliding)
          ++version;  // forgotten: nothing can join it any more
        else
          close_window(c, done, out);
      }
    }
  }

  template <class G>
  static G* find_live(Runtime<G>& rt, const QueueItem& item) {
    auto it = rt.groups.find(item.key);
    return it == rt.groups.end() || it->second.token != item.token ? nullptr : &it->second;
  }

  void move_watermark(int64_t t, std::vector<StageAlert>& out) {
    if (watermark != kNoTime && t <= watermark) return;
    watermark = t;
    close_due(horizon(), false, out);
  }
};

StatefulStage::StatefulStage(std::shared_ptr<const StatefulRules> rules)
    : state_(std::make_unique<State>(std::move(rules))) {}
StatefulStage::~StatefulStage() = default;

StatefulStage::Verdict StatefulStage::observe(const StageHit& hit, std::vector<StageAlert>& out) {
  State& s = *state_;
  ++s.counters.hits;
  // An event without a time of its own takes its arrival time, which says nothing about the event clock: it
  // neither counts as late nor moves the watermark, unless no event has had a time yet.
  if (hit.event_time && !s.event_clock) {
    s.event_clock = true;
    s.watermark = kNoTime;
  }
  const bool late = hit.event_time && s.watermark != kNoTime && hit.time_ms < s.horizon();
  if (late) ++s.counters.late;
  if (hit.event_time || !s.event_clock) s.move_watermark(hit.time_ms, out);
  Input in;
  in.node = hit.rule;
  in.time = hit.time_ms;
  in.values = &hit.values;
  in.digest = hit.event_digest;
  in.ref = &hit.ref;
  in.source = &hit.source;
  in.host = &hit.host;
  in.line = hit.line;
  if (hit.rule >= s.impl.rule_count) return Verdict::Pass;
  if (const int32_t sagan = s.impl.sagan_of[hit.rule]; sagan >= 0) {
    Verdict v = Verdict::Pass;
    if (!s.sagan_match(s.impl.sagan[sagan], hit.sagan, in, out, v)) return v;
  }
  s.feed(in, late, out);
  Verdict v = s.verdict(in, out);
  if (v == Verdict::Pass) ++s.counters.passed;
  return v;
}

void StatefulStage::advance(int64_t event_time_ms, std::vector<StageAlert>& out) {
  State& s = *state_;
  if (!s.event_clock) {
    s.event_clock = true;
    s.watermark = kNoTime;
  }
  s.move_watermark(event_time_ms, out);
}

void StatefulStage::flush(std::vector<StageAlert>& out) {
  // Closing a window may feed a chained correlation, which then holds a new group: repeat until all are
  // closed.
  State& s = *state_;
  for (int round = 0; round < 64; ++round) {
    s.close_due(0, true, out);
    bool left = false;
    for (auto& rt : s.corr) left = left || !rt.groups.empty();
    for (auto& rt : s.pol) left = left || !rt.groups.empty();
    left = left || !s.sagan_threshold.groups.empty() || !s.sagan_after.groups.empty();
    if (!left) break;
  }
}

uint64_t StatefulStage::version() const { return state_->version; }
const StageCounters& StatefulStage::counters() const { return state_->counters; }
const StatefulRules& StatefulStage::rules() const { return *state_->rules; }
const std::shared_ptr<const StatefulRules>& StatefulStage::shared_rules() const { return state_->rules; }

namespace {

template <class G, class Write>
void put_groups(std::string& out, const Runtime<G>& rt, Write write) {
  std::vector<const G*> groups;
  for (const auto& [key, g] : rt.groups) groups.push_back(&g);
  std::sort(groups.begin(), groups.end(), [](const G* a, const G* b) { return a->token < b->token; });
  put_varint(out, groups.size());
  for (const G* g : groups) write(*g);
}

}  // namespace

std::string StatefulStage::snapshot() const {
  const State& s = *state_;
  std::string out(kSnapshotMagic);
  put_i64(out, s.watermark);
  put_varint(out, s.event_clock ? 1 : 0);
  put_varint(out, s.seq);
  put_varint(out, s.corr.size());
  for (size_t i = 0; i < s.corr.size(); ++i) {
    put_str(out, s.impl.correlations[i].fingerprint);
    put_groups(out, s.corr[i], [&](const Group& g) {
      put_str(out, g.key);
      put_varint(out, g.entries.size());
      for (const Entry& e : g.entries) {
        put_i64(out, e.time);
        put_varint(out, e.seq);
        put_varint(out, e.steps);
        put_str(out, e.value);
      }
      put_i64(out, g.start);
      put_i64(out, g.end);
      put_varint(out, g.count);
      put_varint(out, g.steps_seen);
      put_i64(out, g.first);
      put_i64(out, g.last);
      put_varint(out, g.refs.size());
      for (const RefItem& r : g.refs) {
        put_i64(out, r.time);
        put_str(out, r.ref);
      }
      put_str(out, g.source);
      put_str(out, g.host);
      put_varint(out, g.line);
      put_i64(out, g.expiry);
      put_varint(out, g.token);
    });
  }
  put_varint(out, s.pol.size());
  for (size_t i = 0; i < s.pol.size(); ++i) {
    put_str(out, s.impl.policies[i].fingerprint);
    put_groups(out, s.pol[i], [&](const PolicyGroup& g) {
      put_str(out, g.key);
      put_str(out, s.impl.node_rule_id[g.node]);
      put_i64(out, g.start);
      put_i64(out, g.end);
      put_varint(out, g.passed);
      put_varint(out, g.suppressed);
      put_i64(out, g.first);
      put_i64(out, g.last);
      put_str(out, g.first_ref);
      put_str(out, g.source);
      put_str(out, g.host);
      put_varint(out, g.line);
      put_i64(out, g.expiry);
      put_varint(out, g.token);
    });
  }
  // Sagan rules: threshold and after windows (with the option as written, so a changed one is not taken
  // over), then the bits.
  for (int kind = 0; kind < 2; ++kind) {
    put_groups(out, kind == 0 ? s.sagan_threshold : s.sagan_after, [&](const PolicyGroup& g) {
      const SaganRule& r = s.impl.sagan[s.impl.sagan_of[g.node]];
      put_str(out, s.impl.node_rule_id[g.node]);
      put_str(out, (kind == 0 ? r.threshold : r.after).text);
      put_str(out, g.key.substr(g.key.find('/')));
      put_i64(out, g.start);
      put_i64(out, g.end);
      put_varint(out, g.passed);
      put_varint(out, g.suppressed);
      put_i64(out, g.first);
      put_i64(out, g.last);
      put_str(out, g.first_ref);
      put_str(out, g.source);
      put_str(out, g.host);
      put_varint(out, g.line);
      put_i64(out, g.expiry);
      put_varint(out, g.token);
    });
  }
  put_groups(out, s.bits, [&](const Bit& b) {
    put_str(out, b.name);
    put_str(out, b.src);
    put_str(out, b.dst);
    put_i64(out, b.expiry);
    put_varint(out, b.token);
  });
  return out;
}

Status StatefulStage::restore(std::string_view bytes) {
  auto fresh = std::make_unique<State>(state_->rules);
  fresh->counters = state_->counters;
  State& s = *fresh;
  const bool version1 = bytes.substr(0, kSnapshotMagic1.size()) == kSnapshotMagic1;
  if (bytes.substr(0, kSnapshotMagic.size()) != kSnapshotMagic && !version1)
    return Status::error(
        "the stateful stage's saved state is not in a format this version reads; it starts empty");
  Reader r{bytes.substr(kSnapshotMagic.size())};
  s.watermark = r.i64();
  s.event_clock = r.varint() != 0;
  s.seq = r.varint();
  std::unordered_map<std::string, size_t> corr_of, pol_of;
  for (size_t i = 0; i < s.impl.correlations.size(); ++i)
    corr_of.emplace(s.impl.correlations[i].fingerprint, i);
  for (size_t i = 0; i < s.impl.policies.size(); ++i) pol_of.emplace(s.impl.policies[i].fingerprint, i);
  std::unordered_map<std::string, uint32_t> node_by_rule_id;
  for (uint32_t n = static_cast<uint32_t>(s.impl.node_count()); n-- > 0;)
    node_by_rule_id[s.impl.node_rule_id[n]] = n;
  uint64_t restored = 0, dropped = 0;
  size_t correlations = r.count();
  for (size_t i = 0; r.ok && i < correlations; ++i) {
    std::string fp = r.str();
    auto target = corr_of.find(fp);
    size_t groups = r.count();
    for (size_t k = 0; r.ok && k < groups; ++k) {
      Group g;
      g.key = r.str();
      size_t entries = r.count();
      for (size_t e = 0; r.ok && e < entries; ++e) {
        Entry x;
        x.time = r.i64();
        x.seq = r.varint();
        x.steps = r.varint();
        x.value = r.str();
        g.entries.push_back(std::move(x));
      }
      g.start = r.i64();
      g.end = r.i64();
      g.count = r.varint();
      g.steps_seen = r.varint();
      g.first = r.i64();
      g.last = r.i64();
      size_t refs = r.count();
      for (size_t e = 0; r.ok && e < refs; ++e) {
        RefItem x;
        x.time = r.i64();
        x.ref = r.str();
        g.refs.push_back(std::move(x));
      }
      g.source = r.str();
      g.host = r.str();
      g.line = r.varint();
      g.expiry = r.i64();
      g.token = r.varint();
      if (!r.ok) break;
      if (target == corr_of.end()) {
        ++dropped;
        continue;
      }
      auto& rt = s.corr[target->second];
      rt.schedule(g);
      rt.groups[g.key] = std::move(g);
      ++restored;
    }
  }
  size_t policies = r.ok ? r.count() : 0;
  for (size_t i = 0; r.ok && i < policies; ++i) {
    std::string fp = r.str();
    auto target = pol_of.find(fp);
    size_t groups = r.count();
    for (size_t k = 0; r.ok && k < groups; ++k) {
      PolicyGroup g;
      g.key = r.str();
      std::string rule_id = r.str();
      g.start = r.i64();
      g.end = r.i64();
      g.passed = r.varint();
      g.suppressed = r.varint();
      g.first = r.i64();
      g.last = r.i64();
      g.first_ref = r.str();
      g.source = r.str();
      g.host = r.str();
      g.line = r.varint();
      g.expiry = r.i64();
      g.token = r.varint();
      if (!r.ok) break;
      auto node = node_by_rule_id.find(rule_id);
      if (target == pol_of.end() || node == node_by_rule_id.end()) {
        ++dropped;
        continue;
      }
      // The key starts with the node index, which a new rule set may number differently.
      g.node = node->second;
      g.key = std::to_string(g.node) + g.key.substr(g.key.find('/'));
      auto& rt = s.pol[target->second];
      rt.schedule(g);
      rt.groups[g.key] = std::move(g);
      ++restored;
    }
  }
  // Sagan state (absent from the snapshots of versions before it).
  for (int kind = 0; r.ok && !version1 && kind < 2; ++kind) {
    size_t groups = r.count();
    for (size_t k = 0; r.ok && k < groups; ++k) {
      PolicyGroup g;
      std::string rule_id = r.str(), text = r.str(), suffix = r.str();
      g.start = r.i64();
      g.end = r.i64();
      g.passed = r.varint();
      g.suppressed = r.varint();
      g.first = r.i64();
      g.last = r.i64();
      g.first_ref = r.str();
      g.source = r.str();
      g.host = r.str();
      g.line = r.varint();
      g.expiry = r.i64();
      g.token = r.varint();
      if (!r.ok) break;
      auto node = node_by_rule_id.find(rule_id);
      const bool same = node != node_by_rule_id.end() && node->second < s.impl.rule_count &&
                        s.impl.sagan_of[node->second] >= 0 &&
                        (kind == 0 ? s.impl.sagan[s.impl.sagan_of[node->second]].threshold
                                   : s.impl.sagan[s.impl.sagan_of[node->second]].after)
                                .text == text;
      if (!same) {
        ++dropped;
        continue;
      }
      g.node = node->second;
      g.key = std::to_string(g.node) + suffix;
      auto& rt = kind == 0 ? s.sagan_threshold : s.sagan_after;
      rt.schedule(g);
      rt.groups[g.key] = std::move(g);
      ++restored;
    }
  }
  if (r.ok && !version1) {
    size_t count = r.count();
    for (size_t k = 0; r.ok && k < count; ++k) {
      Bit b;
      b.name = r.str();
      b.src = r.str();
      b.dst = r.str();
      b.expiry = r.i64();
      b.token = r.varint();
      if (!r.ok) break;
      b.key = State::bit_key(b.name, b.src, b.dst);
      s.add_bit(std::move(b));
      ++restored;
    }
  }
  if (!r.ok || !r.in.empty())
    return Status::error(
        "the stateful stage's saved state is damaged (it ends early or has bytes left over); "
        "it starts empty");
  s.counters.restored_groups += restored;
  s.counters.restore_dropped += dropped;
  s.version = state_->version + 1;
  state_ = std::move(fresh);
  return Status();
}

}  // namespace socd
