// The producer's wire format between client and in-process broker: a produce request is a
// 24-byte header and a batch of records ([u32 length][bytes]); a response is a 24-byte header and
// an opaque payload. Little-endian, host order (both ends are one process).
#ifndef ALLOCPROF_EXAMPLES_PRODUCER_PROTOCOL_H_
#define ALLOCPROF_EXAMPLES_PRODUCER_PROTOCOL_H_

#include <stddef.h>
#include <stdint.h>

namespace producer {

inline constexpr uint32_t kRequestMagic = 0x51525041;   // "APRQ"
inline constexpr uint32_t kResponseMagic = 0x53525041;  // "APRS"

struct FrameHeader {
  uint32_t magic;
  uint32_t body_length;     // bytes after this header
  uint64_t correlation_id;  // 0, 1, 2, ... per connection
  uint32_t message_count;   // records in the request; echoed in the response
  uint32_t reserved;
};
static_assert(sizeof(FrameHeader) == 24);

inline constexpr size_t kRecordHeader = sizeof(uint32_t);

// Messages in a full batch: the fewest records whose bytes reach `batch_size` (Kafka's batch.size
// closes a batch once it is full), so a request is slightly larger than the batch size.
inline uint64_t MessagesPerBatch(uint64_t batch_size, uint64_t message_size) {
  const uint64_t record = kRecordHeader + message_size;
  return batch_size == 0 ? 1 : (batch_size + record - 1) / record;
}

inline uint64_t RequestBytes(uint64_t messages, uint64_t message_size) {
  return sizeof(FrameHeader) + messages * (kRecordHeader + message_size);
}

}  // namespace producer

#endif  // ALLOCPROF_EXAMPLES_PRODUCER_PROTOCOL_H_
