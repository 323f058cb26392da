// Bytes written but not yet sent, as disjoint extents keyed by file offset. A write over
// buffered bytes replaces them; the common sequential write appends to the last extent.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace dfs::client {

class ExtentBuffer {
 public:
  void insert(uint64_t offset, std::string data);
  bool empty() const { return extents_.empty(); }
  size_t bytes() const { return bytes_; }
  const std::map<uint64_t, std::string>& extents() const { return extents_; }
  // Hands over the extents and leaves the buffer empty.
  std::map<uint64_t, std::string> take();

 private:
  std::map<uint64_t, std::string> extents_;
  size_t bytes_ = 0;
};

}  // namespace dfs::client
