// util/hex.h: the one way the analyzer writes build-ids and code addresses.
#include "util/hex.h"

#include <gtest/gtest.h>

namespace allocprof {
namespace {

TEST(Hex, BytesAreLowercaseDigitPairs) {
  EXPECT_EQ(HexBytes(std::string("\x00\x0f\xa1\xff", 4)), "000fa1ff");
  EXPECT_EQ(HexBytes(""), "");
}

TEST(Hex, ModuleOffsetNamesTheFileOnly) {
  EXPECT_EQ(ModuleOffset("/usr/lib/libfoo.so.1", 0x1a2b), "libfoo.so.1+0x1a2b");
  EXPECT_EQ(ModuleOffset("kcat", 0), "kcat+0x0");
  EXPECT_EQ(ModuleOffset("", 0x1a2b), "0x1a2b");
}

}  // namespace
}  // namespace allocprof
