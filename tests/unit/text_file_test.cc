// util/text_file.h: whole-file reads and the test that tells a trace from a saved report.
#include "util/text_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace allocprof {
namespace {

class TextFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/allocprof-text-file-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    for (const char* name : {"/a", "/b", "/c"}) unlink((dir_ + name).c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const char* name, const std::string& content) {
    std::string path = dir_ + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::string dir_;
};

TEST_F(TextFileTest, ReadsEveryByteIncludingNul) {
  std::string content("line\n\0binary\xff", 13);
  std::string got;
  ASSERT_TRUE(ReadWholeFile(Write("/a", content), &got));
  EXPECT_EQ(got, content);
}

TEST_F(TextFileTest, MissingFileLeavesOutputAlone) {
  std::string got = "untouched";
  EXPECT_FALSE(ReadWholeFile(dir_ + "/missing", &got));
  EXPECT_EQ(got, "untouched");
}

TEST_F(TextFileTest, TraceMagicNeedsAllEightBytes) {
  EXPECT_TRUE(StartsWithTraceMagic(Write("/a", "ALLOCPRF and then records")));
  EXPECT_FALSE(StartsWithTraceMagic(Write("/b", "ALLOCPR")));
  EXPECT_FALSE(StartsWithTraceMagic(Write("/c", "{\"allocations\": 1}")));
  EXPECT_FALSE(StartsWithTraceMagic(dir_ + "/missing"));
}

}  // namespace
}  // namespace allocprof
