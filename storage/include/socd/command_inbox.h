// Incident changes from the command line reach the store whether or not `socd run` holds it. RocksDB lets one
// process write a store (its LOCK file); readers beside it are read-only. So a CLI change either opens the store
// itself (no writer running) or hands the change to the running writer through the command inbox:
//
//   DATA_DIR/commands/NAME.cmd     the command (IncidentCommand::encode), written to NAME.tmp and renamed
//   DATA_DIR/commands/NAME.taken   the writer renamed it: it is applying it (the CLI can no longer withdraw it)
//   DATA_DIR/commands/NAME.reply   the answer: "ok" and the incident record, or "error" and the message
//
// The writer polls the inbox (serve_commands, from `socd run`'s main loop every 200 ms) and applies each command
// through its ledger, in name (arrival) order. A CLI that gets no answer within its timeout withdraws its command
// (removes NAME.cmd) and says that nothing was changed; once taken, it waits for the answer.
#pragma once
#include <string>

#include "socd/incidents.h"
#include "socd/status.h"

namespace socd {

class Ledger;

// True when another process (a `socd run`) holds the store's lock.
bool writer_running(const std::string& dir);

// Applies `command` to the store under `dir`: directly when no writer runs, else through the inbox, waiting up to
// `timeout_ms` for the writer to take it. Returns the incident after the change; `via_inbox` says which way.
Expected<Incident> change_incident(const std::string& dir, const IncidentCommand& command, int timeout_ms,
                                   bool* via_inbox = nullptr);

// Writer: applies every command waiting in DATA_DIR/commands; returns how many were answered.
size_t serve_commands(const std::string& dir, Ledger& ledger);

}  // namespace socd
