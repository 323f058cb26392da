// Bytes written but not yet sent, as disjoint extents keyed by file offset. A write over
// buffered bytes replaces them; the common sequential write appends to the last extent until
// that holds max_extent bytes, then starts a new one: extents of a chunk write's size go out
// without being cut (copied) again.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace dfs::client {

class ExtentBuffer {
 public:
  explicit ExtentBuffer(size_t max_extent = 1 << 20) : max_extent_(max_extent) {}
  void insert(uint64_t offset, std::string data);
  bool empty() const { return extents_.empty(); }
  size_t bytes() const { return bytes_; }
  const std::map<uint64_t, std::string>& extents() const { return extents_; }
  // Hands over the extents and leaves the buffer empty.
  std::map<uint64_t, std::string> take();

 private:
  size_t max_extent_;
  std::map<uint64_t, std::string> extents_;
  size_t bytes_ = 0;
};

}  // namespace dfs::client
