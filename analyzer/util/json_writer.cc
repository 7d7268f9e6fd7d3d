#include "util/json_writer.h"

#include <cmath>

#include "absl/strings/str_format.h"

namespace allocprof {
namespace {

// Length of the well-formed UTF-8 sequence at the start of `s` (its first byte is >= 0x80), or 0.
size_t WellFormedLength(std::string_view s) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(0);
  size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (len == 0 || s.size() < len) return 0;
  // The second byte's range depends on the first; the others are plain continuation bytes.
  unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
  unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
  }
  return len;
}

}  // namespace

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::BeginObject() {
  Separate();
  out_ += '{';
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  out_ += '}';
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  Separate();
  out_ += '[';
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  out_ += ']';
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  String(key);
  out_ += ':';
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view s) {
  Separate();
  out_ += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out_ += '\\';
      out_ += static_cast<char>(c);
    } else if (c < 0x20) {
      absl::StrAppendFormat(&out_, "\\u%04x", c);
    } else if (c < 0x80) {
      out_ += static_cast<char>(c);
    } else {
      // Copy a well-formed UTF-8 sequence (Unicode's table 3-7: no overlong forms, no surrogates,
      // nothing above U+10FFFF); each byte of anything else becomes U+FFFD. Trace strings are
      // untrusted bytes and the JSON must stay valid for every reader.
      size_t len = WellFormedLength(s.substr(i));
      if (len) {
        out_.append(s.substr(i, len));
        i += len - 1;
      } else {
        out_ += "\\ufffd";
      }
    }
  }
  out_ += '"';
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t v) {
  Separate();
  absl::StrAppendFormat(&out_, "%d", v);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  Separate();
  absl::StrAppendFormat(&out_, "%d", v);
  return *this;
}

JsonWriter& JsonWriter::Double(double v) {
  Separate();
  if (!std::isfinite(v))
    out_ += "null";
  else
    absl::StrAppendFormat(&out_, "%.10g", v);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) {
  Separate();
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::Null() {
  Separate();
  out_ += "null";
  return *this;
}

}  // namespace allocprof
