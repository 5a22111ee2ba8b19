#include <openssl/evp.h>

#include "socd/alert_store.h"

namespace socd {

std::string alert_id(std::string_view rule_id, std::string_view source, std::string_view position) {
  std::string material;
  material.reserve(rule_id.size() + source.size() + position.size() + 2);
  material.append(rule_id).push_back('\0');
  material.append(source).push_back('\0');
  material.append(position);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(material.data(), material.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < 16; ++i) {  // 128 bits: collisions are out of reach
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

}  // namespace socd
