#include "read/chunk_queue.h"

#include <utility>

namespace allocprof {

void ChunkQueue::Push(DecodedChunk&& c) {
  size_t bytes = Bytes(c);
  std::unique_lock<std::mutex> lock(mu_);
  not_full_.wait(lock, [&] { return items_.size() < kCapacity && (bytes_ + bytes <= kMaxBytes || items_.empty()); });
  bytes_ += bytes;
  items_.push_back(std::move(c));
  not_empty_.notify_one();
}

bool ChunkQueue::Pop(DecodedChunk* c) {
  std::unique_lock<std::mutex> lock(mu_);
  not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
  if (items_.empty()) return false;
  *c = std::move(items_.front());
  items_.pop_front();
  bytes_ -= Bytes(*c);
  not_full_.notify_one();
  return true;
}

void ChunkQueue::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  not_empty_.notify_all();
}

void ChunkQueue::Recycle(std::vector<uint8_t>&& v) {
  std::lock_guard<std::mutex> lock(mu_);
  if (spare_.size() < kMaxSpare) spare_.push_back(std::move(v));
}

void ChunkQueue::TakeSpare(std::vector<uint8_t>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (spare_.empty()) return;
  *out = std::move(spare_.back());
  spare_.pop_back();
}

}  // namespace allocprof
