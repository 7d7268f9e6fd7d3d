// The JSON writer's output is valid UTF-8 whatever bytes a trace holds (issue 18): thread names,
// command lines, marks and pool names are the program's bytes.
#include "util/json_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace allocprof {
namespace {

std::string Quoted(const std::string& bytes) {
  JsonWriter j;
  j.String(bytes);
  return j.str();
}

TEST(JsonWriter, WellFormedUtf8PassesThrough) {
  for (const std::string& s :
       {std::string("plain"), std::string("\xc3\xa9"), std::string("\xe2\x82\xac"), std::string("\xf0\x9f\x98\x80"),
        std::string("\xef\xbf\xbf"), std::string("\xf4\x8f\xbf\xbf")}) {
    EXPECT_EQ(Quoted(s), "\"" + s + "\"");
    EXPECT_EQ(nlohmann::json::parse(Quoted(s)).get<std::string>(), s);
  }
}

TEST(JsonWriter, EveryByteOfAnIllFormedSequenceBecomesAReplacementCharacter) {
  struct Case {
    std::string bytes, json;
  };
  for (const Case& c : {
           Case{"\xed\xa0\x80", R"("\ufffd\ufffd\ufffd")"},            // a surrogate (U+D800)
           Case{"\xed\xbf\xbf", R"("\ufffd\ufffd\ufffd")"},            // U+DFFF
           Case{"\xc0\xaf", R"("\ufffd\ufffd")"},                      // overlong '/'
           Case{"\xc1\xbf", R"("\ufffd\ufffd")"},                      // overlong, 2 bytes
           Case{"\xe0\x80\xaf", R"("\ufffd\ufffd\ufffd")"},            // overlong, 3 bytes
           Case{"\xf0\x80\x80\xaf", R"("\ufffd\ufffd\ufffd\ufffd")"},  // overlong, 4 bytes
           Case{"\xf4\x90\x80\x80", R"("\ufffd\ufffd\ufffd\ufffd")"},  // above U+10FFFF
           Case{"\xf5\x80\x80\x80", R"("\ufffd\ufffd\ufffd\ufffd")"},  // no such lead byte
           Case{"a\xe2\x82", R"("a\ufffd\ufffd")"},                    // cut short
           Case{"\x80x", R"("\ufffdx")"},                              // a lone continuation byte
           Case{"\xe2\x28\xa1", R"("\ufffd(\ufffd")"},                 // a bad continuation
       }) {
    std::string json = Quoted(c.bytes);
    EXPECT_EQ(json, c.json);
    EXPECT_NO_THROW(nlohmann::json::parse(json)) << json;
  }
}

TEST(JsonWriter, ControlCharactersAndQuotesAreEscaped) {
  EXPECT_EQ(Quoted(std::string("a\"b\\c\n\x01", 7)), R"("a\"b\\c\u000a\u0001")");
}

}  // namespace
}  // namespace allocprof
