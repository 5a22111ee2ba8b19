// Alerts as CEF events in RFC 5424 syslog messages, sent over TLS with octet-counting framing (RFC 5425), for a
// national centre that takes syslog. CEF: `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension`;
// in the header `|` and `\` are escaped (`\|`, `\\`), in extension values `=` and `\` (`\=`, `\\`) and line
// breaks (`\n`, `\r`); a header field cannot hold a line break, so one there becomes a space.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "socd/alert_store.h"

namespace socd::cef {

std::string escape_header(std::string_view text);
std::string escape_extension(std::string_view text);

// CEF severity 0..10 of an alert level (informational 1, low 3, medium 5, high 8, critical 10; unknown 5).
int severity(std::string_view level);

// The CEF event of an alert: vendor "socd", product "socd", `version`, the rule id as SignatureID, the rule's
// title as Name; extension: rt (the alert's time, ms), externalId (the alert id), dvchost, cat (level), cs1 (the
// information system), cn1 (its security level), src/fname/sproc (the first observables) and msg.
std::string event(const StoredAlert& alert, std::string_view version);

// The RFC 5424 message carrying the event: `<PRI>1 TIMESTAMP HOSTNAME socd - alert - CEF:...`, the priority from
// `facility` (0..23) and the level; TIMESTAMP is `-` for a time whose year is not 0000..9999.
std::string syslog_message(const StoredAlert& alert, std::string_view hostname, int facility,
                           std::string_view version);

// Appends one octet-counted frame (`LEN SP MSG`, RFC 5425/6587) to `out`.
void append_frame(std::string& out, std::string_view message);

}  // namespace socd::cef

#include <memory>

#include "forward.h"

namespace socd {
// The sink of type `cef`: `url: tls://HOST:PORT`; the server's certificate is verified against `ca_file` (the
// system's store when empty) and its name against `server_name` (default HOST); `client_cert`/`client_key` for
// mutual TLS. A batch is one connection: the frames, then a TLS close, and the receiver's own close is the
// acknowledgement (syslog has no other): a batch whose connection ends any other way is sent again whole.
std::unique_ptr<Sink> make_cef_sink(const SinkConfig& config);
}  // namespace socd
