#include <string>

#include "socd/rule.h"

namespace socd {

std::string Diagnostic::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  out += message;
  if (!reason.empty()) out += " [" + reason + "]";
  return out;
}

}  // namespace socd
