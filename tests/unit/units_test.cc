#include "allocprof/units.h"

#include <gtest/gtest.h>

namespace allocprof::units {
namespace {

TEST(ParseInteger, PlainDecimalWithinInt64) {
  int64_t v = 0;
  EXPECT_TRUE(ParseInteger("0", &v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(ParseInteger("-50", &v));
  EXPECT_EQ(v, -50);
  EXPECT_TRUE(ParseInteger("9223372036854775807", &v));
  EXPECT_EQ(v, INT64_MAX);
  EXPECT_TRUE(ParseInteger("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
  for (const char* bad : {"", "-", "+1", "1K", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "0x10"}) {
    EXPECT_FALSE(ParseInteger(bad, &v)) << bad;
  }
}

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
  EXPECT_TRUE(ParseByteSize("85000B", &v));
  EXPECT_EQ(v, 85000u);
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

TEST(ParseDuration, AcceptsUnits) {
  uint64_t ns = 0;
  EXPECT_TRUE(ParseDuration("10ms", &ns));
  EXPECT_EQ(ns, 10000000u);
  EXPECT_TRUE(ParseDuration("2.5s", &ns));
  EXPECT_EQ(ns, 2500000000u);
  EXPECT_TRUE(ParseDuration("250ns", &ns));
  EXPECT_EQ(ns, 250u);
  EXPECT_TRUE(ParseDuration("40us", &ns));
  EXPECT_EQ(ns, 40000u);
  EXPECT_TRUE(ParseDuration("1m", &ns));
  EXPECT_EQ(ns, 60000000000u);
  EXPECT_TRUE(ParseDuration("3", &ns));
  EXPECT_EQ(ns, 3000000000u);
}

TEST(ParseDuration, RejectsJunk) {
  uint64_t ns = 0;
  EXPECT_FALSE(ParseDuration("", &ns));
  EXPECT_FALSE(ParseDuration("ms", &ns));
  EXPECT_FALSE(ParseDuration("1.2.3s", &ns));
  EXPECT_FALSE(ParseDuration("10parsecs", &ns));
  EXPECT_FALSE(ParseDuration("-1s", &ns));
}

TEST(ControlSignalNumber, TakesNamesWithOrWithoutSigAndSpareNumbers) {
  EXPECT_EQ(ControlSignalNumber("SIGUSR2"), SIGUSR2);
  EXPECT_EQ(ControlSignalNumber("USR2"), SIGUSR2);
  EXPECT_EQ(ControlSignalNumber("SIGHUP"), SIGHUP);
  EXPECT_EQ(ControlSignalNumber("12"), 12);
  EXPECT_EQ(ControlSignalNumber("SIG12"), 12);
}

TEST(ControlSignalNumber, RefusesSignalsAProgramCannotSpareAndJunk) {
  EXPECT_EQ(ControlSignalNumber("SIGKILL"), 0);
  EXPECT_EQ(ControlSignalNumber("9"), 0);
  EXPECT_EQ(ControlSignalNumber("11"), 0);  // SIGSEGV
  EXPECT_EQ(ControlSignalNumber("65"), 0);
  EXPECT_EQ(ControlSignalNumber(""), 0);
  EXPECT_EQ(ControlSignalNumber("SIGFOO"), 0);
  EXPECT_EQ(ControlSignalNumber("+12"), 0);
}

}  // namespace
}  // namespace allocprof::units
