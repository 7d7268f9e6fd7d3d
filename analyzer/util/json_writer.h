// A minimal streaming JSON writer: objects, arrays, strings (escaped for any byte sequence, invalid
// UTF-8 replaced), integers and finite doubles. Commas and nesting are tracked for the caller.
#ifndef ALLOCPROF_ANALYZER_JSON_WRITER_H_
#define ALLOCPROF_ANALYZER_JSON_WRITER_H_

#include <stdint.h>

#include <string>
#include <string_view>
#include <vector>

namespace allocprof {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view s);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Double(double v);  // non-finite values become null
  JsonWriter& Bool(bool v);
  JsonWriter& Null();

  const std::string& str() const { return out_; }

 private:
  void Separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_JSON_WRITER_H_
