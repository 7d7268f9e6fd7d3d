// The shim's option parsing, compiled directly (nothing is preloaded).
#include <gtest/gtest.h>

#include "options.h"

namespace allocprof::shim {
namespace {

TEST(ParseByteSize, AcceptsSuffixes) {
  uint64_t v = 0;
  EXPECT_TRUE(ParseByteSize("123", &v));
  EXPECT_EQ(v, 123u);
  EXPECT_TRUE(ParseByteSize("64K", &v));
  EXPECT_EQ(v, 64u << 10);
  EXPECT_TRUE(ParseByteSize("64KiB", &v));
  EXPECT_EQ(v, 64u << 10);
  EXPECT_TRUE(ParseByteSize("2MB", &v));
  EXPECT_EQ(v, 2u << 20);
  EXPECT_TRUE(ParseByteSize("1G", &v));
  EXPECT_EQ(v, 1u << 30);
}

TEST(ParseByteSize, RejectsJunkAndOverflow) {
  uint64_t v = 0;
  EXPECT_FALSE(ParseByteSize("", &v));
  EXPECT_FALSE(ParseByteSize("K", &v));
  EXPECT_FALSE(ParseByteSize("12X", &v));
  EXPECT_FALSE(ParseByteSize("-1", &v));
  EXPECT_FALSE(ParseByteSize("99999999999999999999", &v));
  EXPECT_FALSE(ParseByteSize("99999999999999G", &v));
}

}  // namespace
}  // namespace allocprof::shim
