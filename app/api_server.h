// The HTTP JSON API of `socd run` (--api ADDR:PORT), over TLS only: a small HTTP/1.1 server on OpenSSL (request
// line, headers, Content-Length bodies, keep-alive), bounded in request size, connections and idle time.
//
// Authentication: "Authorization: Bearer TOKEN"; the tokens file (--api-tokens) holds one token a line as
// `NAME ROLE sha256:HEX` (HEX: SHA-256 of the token; the token itself is never stored or logged):
//   analyst  reads alerts, incidents, reports, metrics; works incidents (ack, assign, note, resolve, close ...)
//   auditor  reads the same, and the audit chain (verify, chain); changes nothing
//   admin    everything, and the service's configuration (reload, retention)
// The tokens file is read again on SIGHUP, with the rules: a file that cannot be read or parsed is refused with
// its error and the tokens in force stay. No token or an unknown one: 401. A role not allowed: 403. Every request, answered or refused, is appended to
// the audit chain (ChainKind::Request: the token's name, its role, method, path, status, peer).
//
// Endpoints (JSON unless said otherwise):
//   GET  /health                                  no token needed
//   GET  /metrics                                 Prometheus text
//   GET  /alerts?since=&until=&rule=&host=&level=&limit=&newest_first=   times: RFC 3339 or milliseconds
//   GET  /alerts/ID
//   GET  /incidents?state=   GET /incidents/ID (with its alerts' ids)
//   POST /incidents/ID/ack|start|assign|note|resolve|false_positive|close|reopen
//        body: {"assignee": "...", "text": "..."} (assign needs assignee, note needs text)
//   GET  /report?from=&to=&format=json|md|html
//   GET  /audit/verify   GET /audit/chain?from=&limit=
//   POST /admin/reload   POST /admin/retention
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "socd/alert_store.h"
#include "socd/ledger.h"
#include "socd/status.h"

namespace socd {

enum class ApiRole : uint8_t { Analyst, Auditor, Admin };
const char* api_role_name(ApiRole role);

struct ApiToken {
  std::string name;
  ApiRole role = ApiRole::Analyst;
};

// sha256 hex of the token -> who holds it.
using ApiTokens = std::map<std::string, ApiToken>;
// Reads a tokens file; errors name the file and line (never a token).
Expected<ApiTokens> load_api_tokens(const std::string& path);
Expected<ApiTokens> parse_api_tokens(const std::string& file, std::string_view text);

struct HttpRequest {
  std::string method, target, path, query, version;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string peer;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
};

// What the API serves from: the writer's store and ledger, and the service's hooks.
struct ApiContext {
  AlertStore* store = nullptr;
  Ledger* ledger = nullptr;
  std::function<std::string()> metrics_text;            // Prometheus text of the service
  std::function<Status()> reload;                       // as SIGHUP
  std::function<Expected<RetentionResult>()> retention;  // runs retention now
  std::function<std::string()> audit_key;               // the chain's key (verify checks the seals with it)
};

struct ApiServerOptions {
  std::string address;  // ADDR:PORT, [v6]:PORT; port 0 picks one
  std::string cert, key;
  ApiTokens tokens;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1 << 20;
  size_t max_connections = 64;
  int idle_timeout_ms = 30'000;
};

// The request handling, without the transport (the server calls it for each request).
HttpResponse handle_api_request(const HttpRequest& request, const ApiTokens& tokens, ApiContext& context);

class ApiServer {
public:
  static Expected<std::unique_ptr<ApiServer>> start(ApiServerOptions options, ApiContext context);
  ~ApiServer();
  uint16_t port() const;
  // Puts new tokens in force (a SIGHUP reload): requests read after the call are checked against them.
  void set_tokens(ApiTokens tokens);
  // How many tokens are in force.
  size_t token_count() const;
  void stop();
  struct Impl;

private:
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace socd
