// The HTTP JSON API over TLS (api_server.h).
#include "api_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <list>
#include <mutex>
#include <sstream>
#include <thread>

#include "socd/json.h"
#include "socd/read_file.h"
#include "socd/report.h"
#include "socd/time_zone.h"

namespace socd {

const char* api_role_name(ApiRole role) {
  switch (role) {
    case ApiRole::Analyst: return "analyst";
    case ApiRole::Auditor: return "auditor";
    case ApiRole::Admin: return "admin";
  }
  return "unknown";
}

// ---- tokens --------------------------------------------------------------------------------------------------

Expected<ApiTokens> parse_api_tokens(const std::string& file, std::string_view text) {
  ApiTokens tokens;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::istringstream in{std::string(line)};
    std::string name, role, hash, extra;
    in >> name;
    if (name.empty() || name[0] == '#') continue;
    in >> role >> hash >> extra;
    const std::string where = file + ":" + std::to_string(line_no) + ": ";
    if (hash.empty() || !extra.empty())
      return Status::error(where + "write `NAME ROLE sha256:HEX` (HEX: `printf %s TOKEN | sha256sum`)");
    ApiToken token{name, ApiRole::Analyst};
    if (role == "analyst") token.role = ApiRole::Analyst;
    else if (role == "auditor") token.role = ApiRole::Auditor;
    else if (role == "admin") token.role = ApiRole::Admin;
    else return Status::error(where + "unknown role '" + role + "' (use analyst, auditor or admin)");
    if (!hash.starts_with("sha256:") || hash.size() != 7 + 64 ||
        hash.find_first_not_of("0123456789abcdefABCDEF", 7) != std::string::npos)
      return Status::error(where + "the token must be given as sha256:HEX (64 hex digits), never in clear");
    std::string hex = hash.substr(7);
    std::transform(hex.begin(), hex.end(), hex.begin(), [](unsigned char c) { return std::tolower(c); });
    if (!tokens.emplace(hex, token).second) return Status::error(where + "the same token is listed twice");
  }
  if (tokens.empty()) return Status::error(file + ": no token in it (write `NAME ROLE sha256:HEX` lines)");
  return tokens;
}

Expected<ApiTokens> load_api_tokens(const std::string& path) {
  std::string text;
  if (!read_file(path, text))
    return Status::error("cannot read the API tokens file '" + path + "': " + std::strerror(errno));
  return parse_api_tokens(path, text);
}

// ---- request handling ----------------------------------------------------------------------------------------

namespace {

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out.push_back(' ');
    else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
             std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q.remove_prefix(amp == std::string_view::npos ? q.size() : amp + 1);
    size_t eq = pair.find('=');
    out[percent_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
  }
  return out;
}

HttpResponse json_error(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = "{\"error\":";
  append_json_string(r.body, message);
  r.body += "}";
  return r;
}

std::optional<int64_t> parse_time_param(const std::string& s) {
  if (s.empty()) return std::nullopt;
  if (s.find_first_not_of("-0123456789") == std::string::npos) {
    try {
      return std::stoll(s);
    } catch (...) {
      return std::nullopt;
    }
  }
  int64_t ms = 0;
  if (parse_rfc3339(s, ms)) return ms;
  return std::nullopt;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    size_t slash = path.find('/');
    parts.push_back(percent_decode(path.substr(0, slash)));
    path.remove_prefix(slash == std::string_view::npos ? path.size() : slash);
  }
  return parts;
}

std::string alert_json(const StoredAlert& a) {
  // The stored JSON is the alert as `socd scan` prints it; routing facts beside it.
  std::string out = "{\"alert\":" + a.json + ",\"system\":";
  append_json_string(out, a.system);
  out += ",\"system_level\":" + std::to_string(a.system_level) + ",\"layers\":[";
  bool first = true;
  for (int l = 1; l <= 4; ++l)
    if (a.layers & (1u << (l - 1))) {
      out += (first ? "" : ",") + std::to_string(l);
      first = false;
    }
  out += "]}";
  return out;
}

const std::map<std::string, IncidentCommand::Action>& incident_actions() {
  using A = IncidentCommand::Action;
  static const std::map<std::string, A> actions = {
      {"ack", A::Ack},         {"start", A::Start},   {"assign", A::Assign},
      {"note", A::Note},       {"resolve", A::Resolve}, {"false_positive", A::FalsePositive},
      {"close", A::Close},     {"reopen", A::Reopen}};
  return actions;
}

struct Route {
  enum class Need : uint8_t { None, Read, WorkIncidents, Audit, Admin } need = Need::Read;
  bool found = false, method_ok = true;
};

bool allowed(ApiRole role, Route::Need need) {
  switch (need) {
    case Route::Need::None:
    case Route::Need::Read: return true;
    case Route::Need::WorkIncidents: return role == ApiRole::Analyst || role == ApiRole::Admin;
    case Route::Need::Audit: return role == ApiRole::Auditor || role == ApiRole::Admin;
    case Route::Need::Admin: return role == ApiRole::Admin;
  }
  return false;
}

Route route_of(const std::string& method, const std::vector<std::string>& p) {
  Route r;
  auto expect = [&](const char* m, Route::Need need) {
    r.found = true;
    r.method_ok = method == m;
    r.need = need;
  };
  if (p.size() == 1 && p[0] == "health") expect("GET", Route::Need::None);
  else if (p.size() == 1 && p[0] == "metrics") expect("GET", Route::Need::Read);
  else if (p.size() == 1 && p[0] == "report") expect("GET", Route::Need::Read);
  else if ((p.size() == 1 || p.size() == 2) && p[0] == "alerts") expect("GET", Route::Need::Read);
  else if ((p.size() == 1 || p.size() == 2) && p[0] == "incidents") expect("GET", Route::Need::Read);
  else if (p.size() == 3 && p[0] == "incidents" && incident_actions().count(p[2]))
    expect("POST", Route::Need::WorkIncidents);
  else if (p.size() == 2 && p[0] == "audit" && (p[1] == "verify" || p[1] == "chain")) expect("GET", Route::Need::Audit);
  else if (p.size() == 2 && p[0] == "admin" && (p[1] == "reload" || p[1] == "retention"))
    expect("POST", Route::Need::Admin);
  return r;
}

HttpResponse list_alerts(ApiContext& c, const std::map<std::string, std::string>& q) {
  AlertQuery query;
  for (const char* name : {"since", "until"}) {
    auto it = q.find(name);
    if (it == q.end()) continue;
    auto t = parse_time_param(it->second);
    if (!t) return json_error(400, std::string(name) + ": give an RFC 3339 time or milliseconds since the epoch");
    (std::string(name) == "since" ? query.since_ms : query.until_ms) = *t;
  }
  if (auto it = q.find("rule"); it != q.end()) query.rule_id = it->second;
  if (auto it = q.find("host"); it != q.end()) query.host = it->second;
  if (auto it = q.find("level"); it != q.end()) {
    if (level_rank(it->second) < 0) return json_error(400, "level: use informational, low, medium, high or critical");
    query.level = it->second;
    query.level_or_higher = true;
  }
  query.limit = 100;
  if (auto it = q.find("limit"); it != q.end()) {
    if (it->second.empty() || it->second.find_first_not_of("0123456789") != std::string::npos ||
        it->second.size() > 6)
      return json_error(400, "limit: a number from 1 to 100000");
    query.limit = std::clamp<size_t>(std::stoul(it->second), 1, 100'000);
  }
  if (auto it = q.find("newest_first"); it != q.end()) query.newest_first = it->second != "0" && it->second != "false";
  std::string body = "{\"alerts\":[";
  size_t n = 0;
  Status st = c.store->list(query, [&](const StoredAlert& a) {
    if (n++) body += ",";
    body += alert_json(a);
    return true;
  });
  if (!st.ok()) return json_error(500, st.message());
  body += "],\"count\":" + std::to_string(n) + "}";
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

HttpResponse incident_response(ApiContext& c, const Incident& inc, bool with_alerts) {
  auto zone = c.ledger->zone();
  auto settings = c.ledger->settings();
  std::string body = "{\"incident\":" + incident_json(inc, incident_deadlines(inc, settings, zone, 0), zone);
  if (with_alerts) {
    body += ",\"alerts\":[";
    size_t n = 0;
    Status st = c.ledger->incident_alerts(inc.id, [&](const std::string& id) {
      if (n++) body += ",";
      append_json_string(body, id);
      return true;
    });
    if (!st.ok()) return json_error(500, st.message());
    body += "]";
  }
  body += "}";
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

HttpResponse change_incident(ApiContext& c, const std::string& id, const std::string& action, const ApiToken& who,
                             const std::string& body) {
  auto existing = c.ledger->incident(id);
  if (!existing) return json_error(500, existing.error().message());
  if (!*existing) return json_error(404, "no incident '" + id + "'");
  IncidentCommand cmd;
  cmd.action = incident_actions().at(action);
  cmd.incident = id;
  cmd.actor = "api:" + who.name;
  if (!body.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc) != simdjson::SUCCESS || !doc.is_object())
      return json_error(400, "the body must be a JSON object, e.g. {\"text\": \"...\"}");
    std::string_view v;
    if (doc["text"].get_string().get(v) == simdjson::SUCCESS) cmd.text = std::string(v);
    if (doc["assignee"].get_string().get(v) == simdjson::SUCCESS) cmd.assignee = std::string(v);
  }
  if (cmd.action == IncidentCommand::Action::Assign && cmd.assignee.empty())
    return json_error(400, "assign: give {\"assignee\": \"NAME\"}");
  if (cmd.action == IncidentCommand::Action::Note && cmd.text.empty())
    return json_error(400, "note: give {\"text\": \"...\"}");
  auto changed = c.ledger->apply(cmd);
  if (!changed) return json_error(409, changed.error().message());
  return incident_response(c, *changed, false);
}

HttpResponse handle(const HttpRequest& req, const std::vector<std::string>& p, const ApiToken& who,
                    ApiContext& c) {
  const auto q = parse_query(req.query);
  if (p[0] == "health") {
    HttpResponse r;
    r.body = "{\"status\":\"ok\"}";
    return r;
  }
  if (p[0] == "metrics") {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = c.metrics_text ? c.metrics_text() : "";
    return r;
  }
  if (p[0] == "alerts") {
    if (p.size() == 1) return list_alerts(c, q);
    auto a = c.store->get(p[1]);
    if (!a) return json_error(500, a.error().message());
    if (!*a) return json_error(404, "no alert '" + p[1] + "'");
    HttpResponse r;
    r.body = alert_json(**a);
    return r;
  }
  if (p[0] == "incidents") {
    if (p.size() == 1) {
      std::optional<IncidentState> state;
      if (auto it = q.find("state"); it != q.end()) {
        state = parse_state(it->second);
        if (!state) return json_error(400, "state: new, acknowledged, in_progress, resolved, false_positive, closed");
      }
      auto zone = c.ledger->zone();
      auto settings = c.ledger->settings();
      std::string body = "{\"incidents\":[";
      size_t n = 0;
      Status st = c.ledger->incidents([&](const Incident& inc) {
        if (state && inc.state != *state) return true;
        if (n++) body += ",";
        body += incident_json(inc, incident_deadlines(inc, settings, zone, 0), zone);
        return true;
      });
      if (!st.ok()) return json_error(500, st.message());
      body += "],\"count\":" + std::to_string(n) + "}";
      HttpResponse r;
      r.body = std::move(body);
      return r;
    }
    if (p.size() == 3) return change_incident(c, p[1], p[2], who, req.body);
    auto inc = c.ledger->incident(p[1]);
    if (!inc) return json_error(500, inc.error().message());
    if (!*inc) return json_error(404, "no incident '" + p[1] + "'");
    return incident_response(c, **inc, true);
  }
  if (p[0] == "report") {
    ReportOptions ro;
    auto from = q.count("from") ? parse_time_param(q.at("from")) : std::nullopt;
    auto to = q.count("to") ? parse_time_param(q.at("to")) : std::nullopt;
    if (!from || !to || *to <= *from)
      return json_error(400, "give from and to (RFC 3339 or milliseconds), from before to");
    ro.from_ms = *from;
    ro.to_ms = *to;
    const std::string format = q.count("format") ? q.at("format") : "json";
    auto report = build_report(*c.store, ro);
    if (!report) return json_error(500, report.error().message());
    auto text = render_report(*report, format);
    if (!text) return json_error(400, text.error().message());
    HttpResponse r;
    r.content_type = format == "md" ? "text/markdown; charset=utf-8"
                     : format == "html" ? "text/html; charset=utf-8" : "application/json";
    r.body = std::move(*text);
    return r;
  }
  if (p[0] == "audit" && p[1] == "verify") {
    auto rep = c.ledger->verify(c.audit_key ? c.audit_key() : "");
    if (!rep) return json_error(500, rep.error().message());
    std::string body = std::string("{\"ok\":") + (rep->ok ? "true" : "false") +
                       ",\"records\":" + std::to_string(rep->records) + ",\"alerts\":" + std::to_string(rep->alerts) +
                       ",\"incident_changes\":" + std::to_string(rep->incident_changes) +
                       ",\"requests\":" + std::to_string(rep->requests) + ",\"seals\":" + std::to_string(rep->seals) +
                       ",\"seals_checked\":" + std::to_string(rep->seals_checked) + ",\"head_hash\":\"" +
                       rep->head_hash + "\",\"problems\":[";
    for (size_t i = 0; i < rep->problems.size(); ++i) {
      if (i) body += ",";
      append_json_string(body, rep->problems[i]);
    }
    body += "],\"warnings\":[";
    for (size_t i = 0; i < rep->warnings.size(); ++i) {
      if (i) body += ",";
      append_json_string(body, rep->warnings[i]);
    }
    body += "]}";
    HttpResponse r;
    r.body = std::move(body);
    return r;
  }
  if (p[0] == "audit" && p[1] == "chain") {
    uint64_t from = 1, limit = 1000;
    try {
      if (q.count("from")) from = std::max<uint64_t>(1, std::stoull(q.at("from")));
      if (q.count("limit")) limit = std::clamp<uint64_t>(std::stoull(q.at("limit")), 1, 100'000);
    } catch (...) {
      return json_error(400, "from and limit are numbers");
    }
    std::string body = "{\"records\":[";
    uint64_t n = 0;
    Status st = c.ledger->chain(from, [&](const ChainRecord& rec) {
      if (n++) body += ",";
      body += "{\"seq\":" + std::to_string(rec.seq) + ",\"time_ms\":" + std::to_string(rec.time_ms) + ",\"kind\":\"" +
              chain_kind_name(rec.kind) + "\",\"subject\":";
      append_json_string(body, rec.subject);
      body += ",\"payload_sha256\":\"" + sha256_hex(rec.payload) + "\",\"hash\":\"" + to_hex(rec.hash) + "\"}";
      return n < limit;
    });
    if (!st.ok()) return json_error(500, st.message());
    body += "]}";
    HttpResponse r;
    r.body = std::move(body);
    return r;
  }
  if (p[0] == "admin" && p[1] == "reload") {
    if (!c.reload) return json_error(503, "reload is not available");
    if (Status st = c.reload(); !st.ok()) return json_error(500, st.message());
    HttpResponse r;
    r.status = 202;
    r.body = "{\"reload\":\"requested\"}";
    return r;
  }
  if (p[0] == "admin" && p[1] == "retention") {
    if (!c.retention) return json_error(503, "retention is not available");
    auto res = c.retention();
    if (!res) return json_error(500, res.error().message());
    HttpResponse r;
    r.body = "{\"removed\":" + std::to_string(res->removed) +
             ",\"kept_for_layer4\":" + std::to_string(res->kept_for_layer4) + "}";
    return r;
  }
  return json_error(404, "no such endpoint");
}

}  // namespace

HttpResponse handle_api_request(const HttpRequest& req, const ApiTokens& tokens, ApiContext& c) {
  const std::vector<std::string> parts = split_path(req.path);
  std::optional<ApiToken> who;
  if (auto it = req.headers.find("authorization"); it != req.headers.end()) {
    std::string_view v = it->second;
    if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) {
      auto t = tokens.find(sha256_hex(v.substr(7)));
      if (t != tokens.end()) who = t->second;
    }
  }
  HttpResponse response;
  const Route route = parts.empty() ? Route{} : route_of(req.method, parts);
  if (route.found && route.need == Route::Need::None) {
    response = route.method_ok ? handle(req, parts, ApiToken{"-", ApiRole::Analyst}, c)
                               : json_error(405, "method not allowed");
  } else if (!who) {
    response = json_error(401, "give a valid token: Authorization: Bearer TOKEN");
    response.headers["WWW-Authenticate"] = "Bearer realm=\"socd\"";
  } else if (!route.found) {
    response = json_error(404, "no such endpoint");
  } else if (!route.method_ok) {
    response = json_error(405, "method not allowed");
  } else if (!allowed(who->role, route.need)) {
    response = json_error(403, std::string("the role ") + api_role_name(who->role) + " may not do this");
  } else {
    response = handle(req, parts, *who, c);
  }
  // Every request in the audit chain; the token never, only its holder's name.
  std::string target = req.path;
  if (!req.query.empty()) target += "?" + req.query;
  if (target.size() > 512) target.resize(512);
  std::string payload = "role " + std::string(who ? api_role_name(who->role) : "none") + "\t" + req.method + " " +
                        target + "\tstatus " + std::to_string(response.status) + "\tpeer " + req.peer;
  if (c.ledger) {
    if (Status st = c.ledger->record_request(who ? who->name : "-", payload); !st.ok())
      return json_error(503, "the request could not be recorded in the audit chain: " + st.message());
  }
  return response;
}

// ---- the TLS server ------------------------------------------------------------------------------------------

namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
  }
  return "Status";
}

std::string serialize(const HttpResponse& r, bool keep_alive) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "Cache-Control: no-store\r\n\r\n";
  out += r.body;
  return out;
}

std::string peer_name(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, host, sizeof host);
    return host;
  }
  if (ss.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, host, sizeof host);
    return host;
  }
  return "?";
}

}  // namespace

struct ApiServer::Impl {
  ApiServerOptions options;
  ApiContext context;
  SSL_CTX* ctx = nullptr;
  int listen_fd = -1;
  int wake[2] = {-1, -1};
  uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::thread acceptor;
  struct Connection {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::mutex mu;
  std::list<Connection> connections;
  mutable std::mutex tokens_mu;
  std::shared_ptr<const ApiTokens> tokens;  // in force; swapped whole by set_tokens

  std::shared_ptr<const ApiTokens> current_tokens() const {
    std::lock_guard lk(tokens_mu);
    return tokens;
  }

  ~Impl() {
    if (ctx) SSL_CTX_free(ctx);
    if (listen_fd >= 0) ::close(listen_fd);
    for (int fd : wake)
      if (fd >= 0) ::close(fd);
  }

  void reap() {  // under mu
    for (auto it = connections.begin(); it != connections.end();) {
      if (it->done) {
        it->thread.join();
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
  }

  void accept_loop() {
    for (;;) {
      pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
      int n = ::poll(fds, 2, 1000);
      if (stopping) return;
      {
        std::lock_guard lk(mu);
        reap();
      }
      if (n <= 0 || !(fds[0].revents & POLLIN)) continue;
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lk(mu);
      if (connections.size() >= options.max_connections) {
        ::close(fd);  // at the bound: refused (the client sees the connection closed)
        continue;
      }
      timeval tv{options.idle_timeout_ms / 1000, (options.idle_timeout_ms % 1000) * 1000};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      auto& c = connections.emplace_back();
      c.fd = fd;
      std::string peer = peer_name(ss);
      c.thread = std::thread([this, &c, peer] {
        serve(c.fd, peer);
        c.done = true;
      });
    }
  }

  // Reads one request; false ends the connection (after `error` is answered when set).
  bool read_request(SSL* ssl, std::string& buffer, HttpRequest& req, HttpResponse& error) {
    size_t header_end;
    char chunk[8192];
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > options.max_header_bytes) {
        error = json_error(431, "request head over " + std::to_string(options.max_header_bytes) + " bytes");
        return false;
      }
      int n = SSL_read(ssl, chunk, sizeof chunk);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    if (header_end > options.max_header_bytes) {
      error = json_error(431, "request head over " + std::to_string(options.max_header_bytes) + " bytes");
      return false;
    }
    std::string_view head(buffer.data(), header_end);
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    size_t s1 = line.find(' '), s2 = line.rfind(' ');
    if (s1 == std::string_view::npos || s2 == s1) {
      error = json_error(400, "malformed request line");
      return false;
    }
    req.method = std::string(line.substr(0, s1));
    req.target = std::string(line.substr(s1 + 1, s2 - s1 - 1));
    req.version = std::string(line.substr(s2 + 1));
    if (!req.version.starts_with("HTTP/1.") || req.target.empty() || req.target[0] != '/') {
      error = json_error(400, "malformed request line");
      return false;
    }
    size_t qm = req.target.find('?');
    req.path = req.target.substr(0, qm);
    req.query = qm == std::string::npos ? "" : req.target.substr(qm + 1);
    std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    while (!rest.empty()) {
      size_t e = rest.find("\r\n");
      std::string_view h = rest.substr(0, e);
      rest.remove_prefix(e == std::string_view::npos ? rest.size() : e + 2);
      size_t colon = h.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        error = json_error(400, "malformed header line");
        return false;
      }
      std::string name(h.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
      std::string_view value = h.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      req.headers[name] = std::string(value);
    }
    buffer.erase(0, header_end + 4);
    if (req.headers.count("transfer-encoding")) {
      error = json_error(400, "chunked bodies are not taken: send Content-Length");
      return false;
    }
    size_t length = 0;
    if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
      const std::string& v = it->second;
      if (v.empty() || v.size() > 12 || v.find_first_not_of("0123456789") != std::string::npos) {
        error = json_error(400, "malformed Content-Length");
        return false;
      }
      length = std::stoull(v);
      if (length > options.max_body_bytes) {
        error = json_error(413, "body over " + std::to_string(options.max_body_bytes) + " bytes");
        return false;
      }
    }
    while (buffer.size() < length) {
      int n = SSL_read(ssl, chunk, sizeof chunk);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    req.body = buffer.substr(0, length);
    buffer.erase(0, length);
    return true;
  }

  static bool write_all(SSL* ssl, std::string_view data) {
    while (!data.empty()) {
      int n = SSL_write(ssl, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void serve(int fd, const std::string& peer) {
    // A client that went away makes writes fail with EPIPE in this thread, not kill the process.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      std::string buffer;
      while (!stopping) {
        HttpRequest req;
        HttpResponse error;
        error.status = 0;
        req.peer = peer;
        if (!read_request(ssl, buffer, req, error)) {
          if (error.status != 0) write_all(ssl, serialize(error, false));
          break;
        }
        HttpResponse response = handle_api_request(req, *current_tokens(), context);
        auto conn = req.headers.find("connection");
        bool keep_alive = req.version == "HTTP/1.1" ? !(conn != req.headers.end() && conn->second == "close")
                                                    : (conn != req.headers.end() && conn->second == "keep-alive");
        if (!write_all(ssl, serialize(response, keep_alive)) || !keep_alive) break;
      }
      SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
    ::close(fd);
  }
};

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiServer::~ApiServer() { stop(); }
uint16_t ApiServer::port() const { return impl_->port; }

void ApiServer::set_tokens(ApiTokens tokens) {
  auto next = std::make_shared<const ApiTokens>(std::move(tokens));
  std::lock_guard lk(impl_->tokens_mu);
  impl_->tokens = std::move(next);
}

size_t ApiServer::token_count() const { return impl_->current_tokens()->size(); }

void ApiServer::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  char b = 1;
  ssize_t ignored = ::write(impl_->wake[1], &b, 1);
  (void)ignored;
  if (impl_->acceptor.joinable()) impl_->acceptor.join();
  std::lock_guard lk(impl_->mu);
  for (auto& c : impl_->connections) ::shutdown(c.fd, SHUT_RDWR);
  for (auto& c : impl_->connections) c.thread.join();
  impl_->connections.clear();
}

Expected<std::unique_ptr<ApiServer>> ApiServer::start(ApiServerOptions options, ApiContext context) {
  auto impl = std::make_unique<Impl>();
  const std::string address = options.address;
  size_t colon = address.rfind(':');
  if (colon == std::string::npos)
    return Status::error("--api '" + address + "': give ADDR:PORT (e.g. 127.0.0.1:8443 or [::1]:8443)");
  std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (options.cert.empty() || options.key.empty())
    return Status::error("--api needs --api-cert and --api-key (the API is served over TLS only)");
  impl->ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(impl->ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(impl->ctx, options.cert.c_str()) != 1)
    return Status::error("--api-cert '" + options.cert + "': cannot load the certificate (PEM)");
  if (SSL_CTX_use_PrivateKey_file(impl->ctx, options.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(impl->ctx) != 1)
    return Status::error("--api-key '" + options.key + "': cannot load the key, or it does not match the certificate");
  ERR_clear_error();
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return Status::error("--api '" + address + "': " + gai_strerror(rc));
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::freeaddrinfo(res);
    return Status::error("--api '" + address + "': cannot listen: " + why);
  }
  ::freeaddrinfo(res);
  impl->listen_fd = fd;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  impl->port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (::pipe2(impl->wake, O_CLOEXEC) != 0) return Status::error("--api: cannot create a pipe");
  impl->tokens = std::make_shared<const ApiTokens>(std::move(options.tokens));
  options.tokens.clear();
  impl->options = std::move(options);
  impl->context = std::move(context);
  Impl* raw = impl.get();
  impl->acceptor = std::thread([raw] { raw->accept_loop(); });
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

}  // namespace socd
