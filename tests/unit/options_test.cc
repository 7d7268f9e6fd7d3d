// The option table (allocprof/options.h) that the shim, `run` and `attach` all read.
#include "allocprof/options.h"

#include <gtest/gtest.h>

#include <string>

namespace allocprof::options {
namespace {

bool Accepts(Id id, const char* text, int64_t* number = nullptr) {
  Value v;
  bool ok = Parse(SpecOf(id), text, &v);
  if (ok && number) *number = v.number;
  return ok;
}

std::string BadValueMessage(Id id, const char* value) {
  char buffer[512];
  TextBuffer text(buffer, sizeof(buffer));
  DescribeBadValue(SpecOf(id), SpecOf(id).variable, value, text);
  return text.c_str();
}

TEST(OptionTable, NumbersAreCheckedAgainstTheirRange) {
  int64_t n = 0;
  EXPECT_TRUE(Accepts(Id::kDepth, "1024", &n));
  EXPECT_EQ(n, 1024);
  EXPECT_FALSE(Accepts(Id::kDepth, "0"));
  EXPECT_FALSE(Accepts(Id::kDepth, "1025"));
  EXPECT_FALSE(Accepts(Id::kDepth, "1K")) << "a count is a plain number";
  EXPECT_TRUE(Accepts(Id::kZstdLevel, "-50", &n));
  EXPECT_EQ(n, -50);
  EXPECT_FALSE(Accepts(Id::kZstdLevel, "-51"));
  EXPECT_FALSE(Accepts(Id::kZstdLevel, "99"));
  EXPECT_FALSE(Accepts(Id::kZstdLevel, "--1"));
  EXPECT_TRUE(Accepts(Id::kFlushMs, "0"));
  EXPECT_FALSE(Accepts(Id::kFlushMs, "-1"));
  EXPECT_FALSE(Accepts(Id::kFlushMs, "60001"));
  EXPECT_FALSE(Accepts(Id::kFlushMs, ""));
  EXPECT_FALSE(Accepts(Id::kRootPid, "abc"));
  EXPECT_FALSE(Accepts(Id::kRootPid, "0"));
  EXPECT_TRUE(Accepts(Id::kRootPid, "4194304"));
  EXPECT_TRUE(Accepts(Id::kSampleSeed, "9223372036854775807"));
  EXPECT_FALSE(Accepts(Id::kSampleSeed, "9223372036854775808"));
  EXPECT_FALSE(Accepts(Id::kSampleSeed, "-1"));
}

TEST(OptionTable, SizesDurationsChoicesSwitchesSignalsAndText) {
  int64_t n = 0;
  EXPECT_TRUE(Accepts(Id::kBuffer, "16KiB", &n));
  EXPECT_EQ(n, 16 << 10);
  EXPECT_TRUE(Accepts(Id::kBuffer, "8M"));
  EXPECT_FALSE(Accepts(Id::kBuffer, "15KiB"));
  EXPECT_FALSE(Accepts(Id::kBuffer, "9MiB"));
  EXPECT_TRUE(Accepts(Id::kSample, "0")) << "0 records every allocation, as when unset";
  EXPECT_TRUE(Accepts(Id::kSample, "1GiB"));
  EXPECT_FALSE(Accepts(Id::kSample, "2GiB"));
  EXPECT_TRUE(Accepts(Id::kStartAfter, "2.5s", &n));
  EXPECT_EQ(n, 2500000000);
  EXPECT_FALSE(Accepts(Id::kStopAfter, "soon"));
  EXPECT_TRUE(Accepts(Id::kUnwind, "libunwind", &n));
  EXPECT_EQ(n, 2);
  EXPECT_TRUE(Accepts(Id::kUnwind, "none", &n));
  EXPECT_EQ(n, 0);
  EXPECT_FALSE(Accepts(Id::kUnwind, "non"));
  EXPECT_FALSE(Accepts(Id::kUnwind, "nonexistent"));
  EXPECT_FALSE(Accepts(Id::kUnwind, "fp|none"));
  EXPECT_TRUE(Accepts(Id::kFollow, "0"));
  EXPECT_FALSE(Accepts(Id::kFollow, "no"));
  EXPECT_FALSE(Accepts(Id::kQuiet, "10"));
  EXPECT_TRUE(Accepts(Id::kControlSignal, "SIGUSR2", &n));
  EXPECT_EQ(n, SIGUSR2);
  EXPECT_FALSE(Accepts(Id::kControlSignal, "SIGKILL"));
  EXPECT_FALSE(Accepts(Id::kStartAtMark, ""));
  EXPECT_TRUE(Accepts(Id::kStartAtMark, std::string(256, 'm').c_str()));
  EXPECT_FALSE(Accepts(Id::kStartAtMark, std::string(257, 'm').c_str()));
  EXPECT_FALSE(Accepts(Id::kOutput, std::string(4096, 'o').c_str()));
}

TEST(OptionTable, MessagesNameTheValueAndTheValidRange) {
  EXPECT_EQ(BadValueMessage(Id::kZstdLevel, "99"), "ALLOCPROF_ZSTD_LEVEL must be a number in -50..19 (got '99')");
  EXPECT_EQ(BadValueMessage(Id::kBuffer, "1MB!"), "ALLOCPROF_BUFFER must be a size in 16KiB..8MiB (got '1MB!')");
  EXPECT_EQ(BadValueMessage(Id::kSample, "2GiB"), "ALLOCPROF_SAMPLE must be a size in 0..1GiB (got '2GiB')");
  EXPECT_EQ(BadValueMessage(Id::kUnwind, "dwarf"), "ALLOCPROF_UNWIND must be none, fp or libunwind (got 'dwarf')");
  EXPECT_EQ(BadValueMessage(Id::kFollow, "no"), "ALLOCPROF_FOLLOW must be 0 or 1 (got 'no')");
  EXPECT_EQ(BadValueMessage(Id::kStartAfter, "soon"),
            "ALLOCPROF_START_AFTER must be a duration such as 10s or 500ms (got 'soon')");
  EXPECT_EQ(BadValueMessage(Id::kRootPid, "abc"), "ALLOCPROF_ROOT_PID must be a number in 1..2147483647 (got 'abc')");
  std::string long_value(300, 'x');
  EXPECT_EQ(BadValueMessage(Id::kDepth, long_value.c_str()),
            "ALLOCPROF_DEPTH must be a number in 1..1024 (got '" + std::string(80, 'x') + "...')");
}

TEST(OptionTable, TextBufferTruncatesAndStaysTerminated) {
  char buffer[8];
  TextBuffer text(buffer, sizeof(buffer));
  text.Add("0123456789").AddNumber(-5);
  EXPECT_STREQ(text.c_str(), "0123456");
  char sizes[64];
  TextBuffer b(sizes, sizeof(sizes));
  b.AddBytes(100).Add(" ").AddBytes(16 << 10).Add(" ").AddBytes(3 << 20).Add(" ").AddBytes(0).Add(" ");
  b.AddDuration(1500000).Add(" ").AddDuration(10000000000);
  EXPECT_STREQ(b.c_str(), "100B 16KiB 3MiB 0 1500us 10s");
}

TEST(OptionTable, FindsVariablesByExactName) {
  const char* entry = "ALLOCPROF_DEPTH=12";
  ASSERT_NE(FindVariable(entry, 15), nullptr);
  EXPECT_EQ(FindVariable(entry, 15)->id, Id::kDepth);
  EXPECT_EQ(FindVariable(entry, 14), nullptr) << "a prefix names no option";
  EXPECT_EQ(FindVariable("ALLOCPROF_SHIM", 14), nullptr) << "the CLI's own variables are not shim options";
  EXPECT_STREQ(LongFlag(SpecOf(Id::kOutput)), "--output");
  EXPECT_STREQ(LongFlag(SpecOf(Id::kDepth)), "--depth");
}

}  // namespace
}  // namespace allocprof::options
