// The producer's write path: a batch of messages serialized into a produce request rented from
// the pool (header, then [u32 length][message] records). The writer sends the request and returns
// it to the pool; pool_tests.cc holds this path to an allocation budget.
#ifndef ALLOCPROF_EXAMPLES_PRODUCER_REQUEST_WRITER_H_
#define ALLOCPROF_EXAMPLES_PRODUCER_REQUEST_WRITER_H_

#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "array_pool.h"
#include "protocol.h"

namespace producer {

// Rents a request for `n` copies of `message` and fills it: request number `batch`, messages
// numbered from `first_seq` (each message's first bytes carry its sequence number). The caller
// returns the request to `pool` once it is sent.
template <class Pool>
PooledArray SerializeBatch(Pool& pool, uint64_t batch, uint64_t first_seq, uint64_t n,
                           const std::vector<uint8_t>& message) {
  const uint64_t length = RequestBytes(n, message.size());
  const PooledArray request = pool.Rent(length);
  const FrameHeader h{kRequestMagic, static_cast<uint32_t>(length - sizeof(FrameHeader)), batch,
                      static_cast<uint32_t>(n), 0};
  memcpy(request.data, &h, sizeof h);
  uint8_t* p = request.data + sizeof h;
  const uint32_t len = static_cast<uint32_t>(message.size());
  for (uint64_t m = 0; m < n; ++m) {
    memcpy(p, &len, sizeof len);
    p += sizeof len;
    memcpy(p, message.data(), message.size());
    const uint64_t seq = first_seq + m;
    memcpy(p, &seq, std::min(sizeof seq, message.size()));
    p += message.size();
  }
  return request;
}

}  // namespace producer

#endif  // ALLOCPROF_EXAMPLES_PRODUCER_REQUEST_WRITER_H_
