// The producer's read path: responses arrive on a byte stream and are read into fixed-size
// segments rented from a pool, held in a deque until the reader advances past them (the shape
// of a pipe reader over pooled memory).
//
// The reader consumes responses a window at a time: it advances once `window` responses (the
// producer's in-flight window) have been parsed, or at the end of the stream, as a delivery stage
// that completes the in-flight requests together would. So a whole window of responses
// (window x response size, e.g. 8 x 256 KiB = 33 segments of 64 KiB) is alive at once.
//
// Every rent and return happens at a stream offset (a segment is rented when the stream reaches
// its first byte, returned when the reader advances past its last), never at a moment chosen by
// thread timing or by how the socket splits the bytes: for a given stream the pool sees the same
// calls in the same order however it is read (tests/unit/producer_pool_test.cc checks this).
//
// Thread-safety: none; one pump thread owns a reader.
#ifndef ALLOCPROF_EXAMPLES_PRODUCER_RESPONSE_READER_H_
#define ALLOCPROF_EXAMPLES_PRODUCER_RESPONSE_READER_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <deque>
#include <span>
#include <string>

#include "array_pool.h"
#include "protocol.h"

namespace producer {

template <class Pool>
class ResponseReader {
 public:
  // `expected_payload`: the response payload size the broker was told to send.
  ResponseReader(Pool& pool, size_t segment_size, uint32_t window, uint64_t expected_payload)
      : pool_(pool),
        segment_size_(segment_size),
        window_(std::max<uint32_t>(window, 1)),
        expected_payload_(expected_payload) {}
  ~ResponseReader() { ReleaseAll(); }
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  // True when the next byte needs a new segment (none yet, or the last one is full).
  bool NeedsSegment() const { return segments_.empty() || written_ == segments_.back().start + segment_size_; }

  // Where the next bytes go; rents a segment first when NeedsSegment().
  std::span<uint8_t> Writable() {
    if (NeedsSegment()) segments_.push_back({pool_.Rent(segment_size_), written_});
    peak_segments_ = std::max(peak_segments_, segments_.size());
    const Segment& s = segments_.back();
    const size_t used = written_ - s.start;
    return {s.array.data + used, segment_size_ - used};
  }

  // `n` bytes were written into Writable(): parses the responses now complete and adds their
  // number to *completed. False on a malformed response (error()).
  bool Commit(size_t n, uint64_t* completed) {
    written_ += n;
    while (written_ - parsed_ >= sizeof(FrameHeader)) {
      FrameHeader h;
      CopyOut(parsed_, &h, sizeof h);
      if (h.magic != kResponseMagic || h.correlation_id != responses_ || h.body_length != expected_payload_)
        return Fail("malformed response " + std::to_string(responses_) + " at stream offset " +
                    std::to_string(parsed_));
      if (written_ - parsed_ - sizeof h < h.body_length) break;
      // The broker fills a payload with its correlation id's low byte: check both ends.
      if (h.body_length > 0) {
        uint8_t first, last;
        CopyOut(parsed_ + sizeof h, &first, 1);
        CopyOut(parsed_ + sizeof h + h.body_length - 1, &last, 1);
        const uint8_t want = static_cast<uint8_t>(h.correlation_id);
        if (first != want || last != want) return Fail("corrupt payload in response " + std::to_string(responses_));
      }
      parsed_ += sizeof h + h.body_length;
      ++responses_;
      ++*completed;
      if (++in_window_ == window_) Advance();
    }
    return true;
  }

  // End of stream: advances past everything and returns every segment. False if the stream
  // ended inside a response.
  bool Finish() {
    Advance();
    ReleaseAll();
    if (written_ != parsed_) return Fail("stream ended inside response " + std::to_string(responses_));
    return error_.empty();
  }

  uint64_t responses() const { return responses_; }
  uint64_t bytes() const { return written_; }
  size_t live_segments() const { return segments_.size(); }
  size_t peak_segments() const { return peak_segments_; }
  const std::string& error() const { return error_; }

 private:
  struct Segment {
    PooledArray array;
    uint64_t start;  // stream offset of its first byte
  };

  // Returns the segments wholly before the parse position, oldest first.
  void Advance() {
    in_window_ = 0;
    while (!segments_.empty() && segments_.front().start + segment_size_ <= parsed_) {
      pool_.Return(segments_.front().array);
      segments_.pop_front();
    }
  }

  void ReleaseAll() {
    while (!segments_.empty()) {
      pool_.Return(segments_.front().array);
      segments_.pop_front();
    }
  }

  // Copies stream bytes [pos, pos + n) out of the segments (a header may straddle two).
  void CopyOut(uint64_t pos, void* dst, size_t n) const {
    uint8_t* out = static_cast<uint8_t*>(dst);
    while (n > 0) {
      const uint64_t rel = pos - segments_.front().start;
      const Segment& s = segments_[rel / segment_size_];
      const size_t off = rel % segment_size_;
      const size_t take = std::min(n, segment_size_ - off);
      memcpy(out, s.array.data + off, take);
      out += take;
      pos += take;
      n -= take;
    }
  }

  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  Pool& pool_;
  const size_t segment_size_;
  const uint32_t window_;
  const uint64_t expected_payload_;
  std::deque<Segment> segments_;
  uint64_t written_ = 0;  // stream bytes received
  uint64_t parsed_ = 0;   // stream offset of the first byte of the next response
  uint64_t responses_ = 0;
  uint32_t in_window_ = 0;
  size_t peak_segments_ = 0;
  std::string error_;
};

}  // namespace producer

#endif  // ALLOCPROF_EXAMPLES_PRODUCER_RESPONSE_READER_H_
