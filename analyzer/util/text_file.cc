#include "util/text_file.h"

#include <string.h>

#include <fstream>
#include <sstream>

#include "allocprof/trace_format.h"

namespace allocprof {

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream content;
  content << in.rdbuf();
  *out = content.str();
  return true;
}

bool StartsWithTraceMagic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof(format::kFileMagic)] = {0};
  in.read(magic, sizeof(magic));
  return in.gcount() == static_cast<std::streamsize>(sizeof(magic)) &&
         memcmp(magic, format::kFileMagic, sizeof(magic)) == 0;
}

}  // namespace allocprof
