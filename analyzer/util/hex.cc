#include "util/hex.h"

#include "absl/strings/str_format.h"

namespace allocprof {

std::string HexBytes(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string ModuleOffset(std::string_view module, uint64_t offset) {
  if (module.empty()) return absl::StrFormat("0x%x", offset);
  size_t slash = module.rfind('/');
  std::string_view base = slash == std::string_view::npos ? module : module.substr(slash + 1);
  return absl::StrFormat("%s+0x%x", base, offset);
}

}  // namespace allocprof
