#include "read/trace_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "read/record_decoder.h"
#include "trace_builder.h"

namespace allocprof {
namespace {

using format::EntryPoint;
using testing::TraceBuilder;

void Allocs(shim::RecordEncoder& e, uint64_t t0, int n) {
  for (int i = 0; i < n; ++i) e.Alloc(EntryPoint::kMalloc, t0 + i, 0x1000 + 16 * i, 32, 1);
}

std::vector<Chunk> ReadAll(const std::string& path, std::vector<Diagnostic>* diags = nullptr) {
  auto file = TraceFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  std::vector<Chunk> chunks;
  Chunk c;
  while ((*file)->Next(&c)) chunks.push_back(c);
  if (diags) *diags = (*file)->diagnostics();
  unlink(path.c_str());
  return chunks;
}

TEST(TraceFile, ReadsPlainAndCompressedChunks) {
  TraceBuilder b;
  b.Process(100);
  b.Chunk(0, 100, 200, [](auto& e) { Allocs(e, 100, 10); });
  b.Chunk(
      0, 200, 300, [](auto& e) { Allocs(e, 200, 5000); }, /*compress=*/true);
  std::vector<Diagnostic> diags;
  auto chunks = ReadAll(b.WriteTemp(), &diags);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_TRUE(diags.empty());
  EXPECT_EQ(chunks[2].header.codec, static_cast<uint8_t>(format::Codec::kZstd));
  AllocationHistory history;
  RecordDecoder d(chunks[2], &history);
  Record r;
  int n = 0;
  while (d.Next(&r)) ++n;
  EXPECT_EQ(n, 5000);
  EXPECT_TRUE(d.error().empty());
}

TEST(TraceFile, RejectsAFileThatIsNotATrace) {
  TraceBuilder b;
  b.data().replace(0, 8, "NOTATRCE");
  std::string path = b.WriteTemp();
  auto file = TraceFile::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find(path), std::string::npos);
  EXPECT_NE(file.status().message().find("not an allocprof trace (bad magic at offset 0)"), std::string::npos);
  unlink(path.c_str());
}

TEST(TraceFile, RejectsAShortFile) {
  TraceBuilder b;
  b.data().resize(5);
  std::string path = b.WriteTemp();
  auto file = TraceFile::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("shorter than the 16-byte file header"), std::string::npos);
  unlink(path.c_str());
}

TEST(TraceFile, ReadsTheOldestSupportedVersionAndRefusesTheRowFormat) {
  TraceBuilder b;
  b.data()[8] = static_cast<char>(format::kOldestReadableVersion);
  b.Process(1);
  std::string path = b.WriteTemp();
  EXPECT_TRUE(TraceFile::Open(path).ok());
  unlink(path.c_str());
  TraceBuilder old;
  old.data()[8] = 1;
  path = old.WriteTemp();
  auto file = TraceFile::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("version 1 at offset 8 is not supported"), std::string::npos) << file.status();
  unlink(path.c_str());
}

TEST(TraceFile, RejectsANewerVersion) {
  TraceBuilder b;
  b.data()[8] = static_cast<char>(format::kFormatVersion + 1);
  std::string path = b.WriteTemp();
  auto file = TraceFile::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find(
                absl::StrCat("version ", format::kFormatVersion + 1, " at offset 8 is not supported")),
            std::string::npos)
      << file.status();
  EXPECT_NE(file.status().message().find("upgrade allocprof"), std::string::npos);
  unlink(path.c_str());
}

TEST(TraceFile, TruncatedTailKeepsThePrefixAndSaysWhere) {
  TraceBuilder b;
  b.Process(100);
  b.Chunk(0, 100, 200, [](auto& e) { Allocs(e, 100, 10); });
  size_t cut_chunk = b.Chunk(0, 200, 300, [](auto& e) { Allocs(e, 200, 100); });
  b.data().resize(cut_chunk + 60);  // header and a few payload bytes of the last chunk
  std::vector<Diagnostic> diags;
  auto chunks = ReadAll(b.WriteTemp(), &diags);
  EXPECT_EQ(chunks.size(), 2u);
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].kind, Diagnostic::Kind::kTruncated);
  EXPECT_EQ(diags[0].offset, cut_chunk);
  EXPECT_NE(diags[0].message.find("truncated at offset " + std::to_string(cut_chunk)), std::string::npos);
}

TEST(TraceFile, ResynchronisesAfterCorruptionInTheMiddle) {
  TraceBuilder b;
  b.Process(100);
  size_t bad = b.Chunk(0, 100, 200, [](auto& e) { Allocs(e, 100, 10); });
  size_t good = b.Chunk(0, 200, 300, [](auto& e) { Allocs(e, 200, 7); });
  b.data()[bad + sizeof(format::ChunkHeader) + 3] ^= 0x55;  // payload byte: checksum fails
  std::vector<Diagnostic> diags;
  auto chunks = ReadAll(b.WriteTemp(), &diags);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1].offset, good);
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].kind, Diagnostic::Kind::kCorrupt);
  EXPECT_EQ(diags[0].offset, bad);
  EXPECT_NE(diags[0].message.find("checksum mismatch"), std::string::npos);
  EXPECT_NE(diags[0].message.find(std::to_string(good - bad) + " bytes skipped"), std::string::npos);
}

TEST(TraceFile, HugeClaimedSizeIsRejectedWithoutAllocating) {
  TraceBuilder b;
  b.Process(100);
  size_t bad = b.Chunk(0, 100, 200, [](auto& e) { Allocs(e, 100, 3); });
  auto* h = reinterpret_cast<format::ChunkHeader*>(&b.data()[bad]);
  h->stored_size = 0xfffffff0u;
  h->raw_size = 0xfffffff0u;
  std::vector<Diagnostic> diags;
  auto chunks = ReadAll(b.WriteTemp(), &diags);
  EXPECT_EQ(chunks.size(), 1u);
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_NE(diags[0].message.find("exceeds the"), std::string::npos);
}

TEST(TraceFile, GarbageAfterTheHeaderIsReportedNotFatal) {
  TraceBuilder b;
  b.data().append(1000, 'x');
  std::vector<Diagnostic> diags;
  auto chunks = ReadAll(b.WriteTemp(), &diags);
  EXPECT_TRUE(chunks.empty());
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].offset, 16u);
}

TEST(TraceFile, AHeaderOnlyTraceIsAnErrorNotAnEmptyReport) {
  TraceBuilder b;
  std::string path = b.WriteTemp();
  auto file = TraceFile::Open(path);
  unlink(path.c_str());
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("empty trace: the program wrote no data"), std::string::npos)
      << file.status().message();
}

}  // namespace
}  // namespace allocprof
