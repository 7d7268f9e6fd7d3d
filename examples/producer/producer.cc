// The demo producer: reproduces the motivating pool regression (DESIGN.md "Pools"). A client
// sends produce requests over a loopback socketpair to an in-process broker thread and reads its
// responses, renting every request and every read segment from one ArrayPool:
//
//   writer (main thread)  serialize a batch (--batch-size of --message-size records) into a
//                         request rented from the pool, send it, return it; at most --inflight
//                         requests unacknowledged (--acks all)
//   broker thread         reads each request into its own buffer (a std::vector reused for the
//                         whole run: not pooled, so the pool's statistics are the client's alone),
//                         checks it and, with --acks all, answers with --response-size bytes
//   pump thread           reads responses into 64 KiB pooled segments (response_reader.h) that
//                         stay alive until the reader advances past a whole in-flight window
//
// With --pool-max 1MiB --pool-slots 8 every full request (1 MiB + header) is OVERSIZE, and the 33
// segments of a window overflow the 64 KiB bucket and its neighbour (EXHAUSTED rents,
// DROPPED_FULL returns); with --pool-max 4MiB --pool-slots 32 only the first fills fall through.
// The pool statistics are deterministic for a given configuration (--duration aside): requests
// and segments live in different buckets, each used by one thread, and the read path rents and
// returns at fixed stream offsets.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "allocprof/pool.h"
#include "array_pool.h"
#include "protocol.h"
#include "request_writer.h"
#include "response_reader.h"

namespace producer {
namespace {

constexpr size_t kSegmentSize = 64 * 1024;
constexpr uint64_t kMaxRequestBody = uint64_t{1} << 30;
constexpr uint64_t kMaxCount = uint64_t{1} << 20;  // --inflight, --pool-slots

struct Options {
  uint64_t messages = 200000;
  uint64_t message_size = 100;
  uint64_t batch_size = 1 << 20;
  uint32_t inflight = 8;
  bool acks_all = true;
  uint64_t response_size = 256 * 1024;
  std::optional<double> duration_s;
  double rate = 0;  // messages per second; 0 = as fast as the connection goes
  uint64_t pool_max = 1 << 20;
  uint32_t pool_slots = 8;
};

constexpr const char* kUsage =
    "usage: producer [options]\n"
    "  --messages N        messages to send (default 200000)\n"
    "  --message-size B    bytes per message (default 100)\n"
    "  --batch-size B      a batch closes once its records reach B bytes (default 1MiB)\n"
    "  --inflight N        unacknowledged requests at most; also the read window (default 8)\n"
    "  --acks all|none     all: the broker answers every request; none: fire and forget (default all)\n"
    "  --response-size B   response payload bytes (default 256KiB)\n"
    "  --duration T        stop sending after T (e.g. 2s, 500ms; default: when all are sent)\n"
    "  --rate N            send at most N messages per second, paced per batch (default: no limit)\n"
    "  --pool-max B        largest pooled array (default 1MiB)\n"
    "  --pool-slots N      arrays per bucket (default 8)\n"
    "Sizes take B, KiB, MiB, GiB (or K, M, G) suffixes.\n";

// "1MiB", "64K", "100" -> bytes.
bool ParseSize(std::string_view s, uint64_t* out) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(s[i++] - '0');
  }
  if (i == 0) return false;
  const std::string_view unit = s.substr(i);
  int shift;
  if (unit.empty() || unit == "B")
    shift = 0;
  else if (unit == "K" || unit == "KiB" || unit == "k")
    shift = 10;
  else if (unit == "M" || unit == "MiB")
    shift = 20;
  else if (unit == "G" || unit == "GiB")
    shift = 30;
  else
    return false;
  if (shift > 0 && v > (UINT64_MAX >> shift)) return false;
  *out = v << shift;
  return true;
}

// A plain decimal count.
bool ParseCount(std::string_view s, uint64_t* out) {
  uint64_t v = 0;
  if (!ParseSize(s, &v) || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  *out = v;
  return true;
}

// "2s", "500ms", "1.5" (seconds) -> seconds.
bool ParseDuration(const std::string& s, double* out) {
  char* end = nullptr;
  const double v = strtod(s.c_str(), &end);
  if (end == s.c_str() || v < 0) return false;
  const std::string_view unit(end);
  if (unit.empty() || unit == "s")
    *out = v;
  else if (unit == "ms")
    *out = v / 1e3;
  else if (unit == "us")
    *out = v / 1e6;
  else if (unit == "m" || unit == "min")
    *out = v * 60;
  else
    return false;
  return true;
}

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    if (arg == "-h" || arg == "--help") {
      fputs(kUsage, stdout);
      exit(0);
    }
    if (const size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      fprintf(stderr, "producer: %s needs a value\n%s", arg.c_str(), kUsage);
      return false;
    }
    uint64_t n = 0;
    bool ok = true;
    if (arg == "--messages") {
      ok = ParseCount(value, &o->messages);
    } else if (arg == "--message-size") {
      ok = ParseSize(value, &o->message_size) && o->message_size <= kMaxRequestBody;
    } else if (arg == "--batch-size") {
      ok = ParseSize(value, &o->batch_size) && o->batch_size <= kMaxRequestBody;
    } else if (arg == "--inflight") {
      ok = ParseCount(value, &n) && n >= 1 && n <= kMaxCount;
      o->inflight = static_cast<uint32_t>(n);
    } else if (arg == "--acks") {
      ok = value == "all" || value == "none";
      o->acks_all = value == "all";
    } else if (arg == "--response-size") {
      ok = ParseSize(value, &o->response_size) && o->response_size <= kMaxRequestBody;
    } else if (arg == "--duration") {
      ok = ParseDuration(value, &o->duration_s.emplace());
    } else if (arg == "--rate") {
      char* end = nullptr;
      o->rate = strtod(value.c_str(), &end);
      ok = end != value.c_str() && *end == '\0' && o->rate > 0 && o->rate < 1e12;
    } else if (arg == "--pool-max") {
      ok = ParseSize(value, &o->pool_max);
    } else if (arg == "--pool-slots") {
      ok = ParseCount(value, &n) && n >= 1 && n <= kMaxCount;
      o->pool_slots = static_cast<uint32_t>(n);
    } else {
      fprintf(stderr, "producer: unknown option %s\n%s", arg.c_str(), kUsage);
      return false;
    }
    if (!ok) {
      fprintf(stderr, "producer: bad value for %s: %s\n", arg.c_str(), value.c_str());
      return false;
    }
  }
  if (RequestBytes(MessagesPerBatch(o->batch_size, o->message_size), o->message_size) >
      sizeof(FrameHeader) + kMaxRequestBody) {
    fprintf(stderr, "producer: a request would exceed 1 GiB\n");
    return false;
  }
  return true;
}

// What the three threads share: the acknowledgement count and the first error. An error shuts
// both sockets down, which wakes every blocked send and recv, and wakes the writer.
class Connection {
 public:
  Connection(int client_fd, int broker_fd) : client_fd_(client_fd), broker_fd_(broker_fd) {}

  void Fail(const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_) return;
    failed_ = true;
    error_ = message;
    shutdown(client_fd_, SHUT_RDWR);
    shutdown(broker_fd_, SHUT_RDWR);
    cv_.notify_all();
  }
  void Acknowledge(uint64_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    acked_ += n;
    cv_.notify_all();
  }
  // Waits until at most `limit - 1` of `sent` requests are unacknowledged; false after an error.
  bool WaitForWindow(uint64_t sent, uint64_t limit) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return failed_ || sent - acked_ < limit; });
    return !failed_;
  }
  bool failed() {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }
  std::string error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }
  int client_fd() const { return client_fd_; }
  int broker_fd() const { return broker_fd_; }

 private:
  const int client_fd_;
  const int broker_fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t acked_ = 0;
  bool failed_ = false;
  std::string error_;
};

bool SendAll(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads exactly n bytes: 1 done, 0 clean end of stream before the first byte, -1 error or cut off.
int RecvExact(int fd, uint8_t* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = recv(fd, p + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) return got == 0 ? 0 : -1;
    got += static_cast<size_t>(r);
  }
  return 1;
}

// The broker: reads requests into one reused buffer, checks their framing and records, answers.
void RunBroker(Connection& c, const Options& o) {
  const int fd = c.broker_fd();
  std::vector<uint8_t> body;
  std::vector<uint8_t> response(sizeof(FrameHeader) + o.response_size);
  for (uint64_t id = 0;; ++id) {
    FrameHeader h;
    const int r = RecvExact(fd, reinterpret_cast<uint8_t*>(&h), sizeof h);
    if (r == 0) break;
    if (r < 0) return c.Fail("broker: request header cut off");
    if (h.magic != kRequestMagic || h.correlation_id != id || h.body_length > kMaxRequestBody)
      return c.Fail("broker: malformed request " + std::to_string(id));
    body.resize(h.body_length);
    if (RecvExact(fd, body.data(), body.size()) != 1) return c.Fail("broker: request body cut off");
    // Walk the records: their lengths must add up to the body and their count to the header's.
    uint64_t records = 0;
    for (size_t off = 0; off < body.size(); ++records) {
      uint32_t len;
      if (body.size() - off < kRecordHeader) return c.Fail("broker: record header cut off");
      memcpy(&len, body.data() + off, sizeof len);
      off += kRecordHeader;
      if (body.size() - off < len) return c.Fail("broker: record cut off");
      off += len;
    }
    if (records != h.message_count) return c.Fail("broker: record count mismatch in request " + std::to_string(id));
    if (!o.acks_all) continue;
    const FrameHeader rh{kResponseMagic, static_cast<uint32_t>(o.response_size), id, h.message_count, 0};
    memcpy(response.data(), &rh, sizeof rh);
    memset(response.data() + sizeof rh, static_cast<uint8_t>(id), o.response_size);
    if (!SendAll(fd, response.data(), response.size())) return c.Fail("broker: send failed");
  }
  shutdown(fd, SHUT_WR);  // the pump sees the end of the responses
}

// The pump: reads responses into pooled segments and acknowledges each to the writer.
template <class Pool>
void RunPump(Connection& c, ResponseReader<Pool>& reader) {
  const int fd = c.client_fd();
  for (;;) {
    // Rent a segment only once bytes are there, so a stream that ends at a segment boundary (or
    // carries nothing, --acks none) rents none.
    if (reader.NeedsSegment()) {
      uint8_t probe;
      const ssize_t p = recv(fd, &probe, 1, MSG_PEEK);
      if (p < 0 && errno == EINTR) continue;
      if (p < 0) return c.Fail("pump: recv failed");
      if (p == 0) break;
    }
    const std::span<uint8_t> into = reader.Writable();
    const ssize_t r = recv(fd, into.data(), into.size(), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return c.Fail("pump: recv failed");
    if (r == 0) break;
    uint64_t completed = 0;
    if (!reader.Commit(static_cast<size_t>(r), &completed)) return c.Fail("pump: " + reader.error());
    if (completed > 0) c.Acknowledge(completed);
  }
  if (!reader.Finish()) c.Fail("pump: " + reader.error());
}

struct WriterTotals {
  uint64_t messages = 0;
  uint64_t batches = 0;
  uint64_t bytes = 0;
};

// Serializes batches into pooled requests and sends them.
template <class Pool>
WriterTotals RunWriter(Connection& c, Pool& pool, const Options& o, std::chrono::steady_clock::time_point start) {
  WriterTotals t;
  const uint64_t per_batch = MessagesPerBatch(o.batch_size, o.message_size);
  // Message bytes: a repeating pattern, the message's sequence number in its first bytes.
  std::vector<uint8_t> message(o.message_size);
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<uint8_t>('a' + i % 26);
  while (t.messages < o.messages) {
    if (o.duration_s &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= *o.duration_s)
      break;
    if (o.acks_all && !c.WaitForWindow(t.batches, o.inflight)) break;
    if (o.rate > 0) {  // a bounded rate: the batch leaves when its first message is due
      std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                std::chrono::duration<double>(t.messages / o.rate)));
      if (o.duration_s &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= *o.duration_s)
        break;
    }
    const uint64_t n = std::min(per_batch, o.messages - t.messages);
    const uint64_t length = RequestBytes(n, o.message_size);
    const PooledArray request = SerializeBatch(pool, t.batches, t.messages, n, message);
    const bool sent = SendAll(c.client_fd(), request.data, length);
    pool.Return(request);
    if (!sent) {
      c.Fail("writer: send failed");
      break;
    }
    t.messages += n;
    t.batches += 1;
    t.bytes += length;
    allocprof_count("messages", n);
  }
  shutdown(c.client_fd(), SHUT_WR);  // the broker sees the end of the requests
  return t;
}

int Run(const Options& o) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    perror("producer: socketpair");
    return 1;
  }
  ArrayPool pool({"producer", o.pool_max, o.pool_slots});
  Connection c(fds[0], fds[1]);
  const auto start = std::chrono::steady_clock::now();
  WriterTotals totals;
  uint64_t responses = 0;
  size_t peak_segments = 0;
  {
    ResponseReader<ArrayPool> reader(pool, kSegmentSize, o.inflight, o.response_size);
    std::thread broker([&] { RunBroker(c, o); });
    std::thread pump([&] { RunPump(c, reader); });
    totals = RunWriter(c, pool, o, start);
    broker.join();
    pump.join();
    responses = reader.responses();
    peak_segments = reader.peak_segments();
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  close(fds[0]);
  close(fds[1]);
  if (!c.failed() && o.acks_all && responses != totals.batches)
    c.Fail("pump: " + std::to_string(responses) + " responses for " + std::to_string(totals.batches) + " requests");

  printf(
      "producer: messages=%llu batches=%llu bytes=%llu responses=%llu peak_segments=%zu elapsed_s=%.3f "
      "msg_per_s=%.0f\n",
      (unsigned long long)totals.messages, (unsigned long long)totals.batches, (unsigned long long)totals.bytes,
      (unsigned long long)responses, peak_segments, elapsed, elapsed > 0 ? totals.messages / elapsed : 0.0);
  const ArrayPoolStats s = pool.stats();
  printf(
      "pool: name=%s max=%zu slots=%u rents=%llu hit=%llu fill=%llu exhausted=%llu oversize=%llu "
      "fallthroughs=%llu fallthrough_bytes=%llu from_neighbour=%llu returns=%llu kept=%llu dropped_full=%llu "
      "dropped_oversize=%llu\n",
      pool.name().c_str(), pool.largest_bucket_length(), pool.slots_per_bucket(), (unsigned long long)s.rents,
      (unsigned long long)s.hits(), (unsigned long long)s.fills(), (unsigned long long)s.exhausted(),
      (unsigned long long)s.oversize(), (unsigned long long)s.fallthroughs(), (unsigned long long)s.fallthrough_bytes,
      (unsigned long long)s.from_neighbour, (unsigned long long)s.returns, (unsigned long long)s.kept(),
      (unsigned long long)s.dropped_full(), (unsigned long long)s.dropped_oversize());
  if (c.failed()) {
    fprintf(stderr, "producer: %s\n", c.error().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace producer

int main(int argc, char** argv) {
  producer::Options o;
  if (!producer::ParseOptions(argc, argv, &o)) return 64;
  return producer::Run(o);
}
