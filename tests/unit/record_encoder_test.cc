// The shim's column encoder: NeedsFlush() answers from a count of records that certainly fit and
// must still agree, before every record, with the room actually left in the columns.
#include "record/record_encoder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace allocprof::shim {
namespace {

bool SomeEventColumnIsShort(const RecordEncoder& enc) {
  for (int c = 0; c < static_cast<int>(format::Column::kControl); ++c) {
    const ColumnSpan& col = enc.column(c);
    if (col.end - col.cursor < static_cast<ptrdiff_t>(kMaxEventColumnBytes)) return true;
  }
  return false;
}

TEST(RecordEncoder, NeedsFlushMatchesTheRoomLeftBeforeEveryRecord) {
  std::vector<uint8_t> memory(64 << 10);
  RecordEncoder enc;
  enc.Init(memory.data(), memory.size(), 8 << 10);
  uint64_t x = 42;
  for (int chunk = 0; chunk < 3; ++chunk) {
    enc.Start(1000, 0);
    uint32_t records = 0;
    for (;;) {
      bool short_now = SomeEventColumnIsShort(enc);
      ASSERT_EQ(enc.NeedsFlush(), short_now) << "chunk " << chunk << " record " << records;
      if (short_now) break;
      // Large, varied values so varints of every length appear.
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      switch (x >> 62) {
        case 0:
          enc.Alloc(format::EntryPoint::kMalloc, 1000 + records * 977, x >> 3, x >> 40, 7);
          break;
        case 1:
          enc.Free(format::EntryPoint::kFree, 1000 + records * 977, x);
          break;
        case 2:
          enc.FreeAge(format::EntryPoint::kFree, 1000 + records * 977, static_cast<uint32_t>(x >> 50), 3,
                      format::Family::kMallocFamily, x);
          break;
        default:
          if (!enc.ControlRoom(32)) {  // as the shim does before a control record
            enc.Free(format::EntryPoint::kFree, 1000 + records * 977, x);
            break;
          }
          enc.Tag(format::RecordTag::kQuiet);
          enc.Time(1000 + records * 977 + (x >> 20));
          enc.Uint(x);
          break;
      }
      ++records;
    }
    EXPECT_GT(records, 1000u);
  }
}

}  // namespace
}  // namespace allocprof::shim
