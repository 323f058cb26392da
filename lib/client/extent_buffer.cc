#include "lib/client/extent_buffer.h"

#include <utility>

namespace dfs::client {

void ExtentBuffer::insert(uint64_t offset, std::string data) {
  if (data.empty()) return;
  uint64_t end = offset + data.size();
  auto next = extents_.upper_bound(offset);
  if (next != extents_.begin()) {
    auto previous = std::prev(next);
    uint64_t previous_end = previous->first + previous->second.size();
    if (previous_end == offset && previous->second.size() < max_extent_ &&
        (next == extents_.end() || next->first >= end)) {
      previous->second += data;  // the sequential writer's case
      bytes_ += data.size();
      return;
    }
    if (previous_end > offset) {
      std::string tail;
      if (previous_end > end) tail = previous->second.substr(end - previous->first);
      bytes_ -= previous_end - offset;
      previous->second.resize(offset - previous->first);
      if (previous->second.empty()) extents_.erase(previous);
      if (!tail.empty()) {
        bytes_ += tail.size();
        extents_.emplace(end, std::move(tail));
      }
    }
  }
  for (auto it = extents_.lower_bound(offset); it != extents_.end() && it->first < end;) {
    uint64_t extent_end = it->first + it->second.size();
    bytes_ -= it->second.size();
    if (extent_end > end) {
      std::string tail = it->second.substr(end - it->first);
      extents_.erase(it);
      bytes_ += tail.size();
      extents_.emplace(end, std::move(tail));
      break;
    }
    it = extents_.erase(it);
  }
  bytes_ += data.size();
  extents_.emplace(offset, std::move(data));
}

std::map<uint64_t, std::string> ExtentBuffer::take() {
  bytes_ = 0;
  return std::exchange(extents_, {});
}

}  // namespace dfs::client
