// Record framing for the journal and checkpoints, after LevelDB's log format: the file is a
// sequence of 32 KiB blocks; a record is split into fragments that never cross a block, each
// with a 7-byte header (CRC32C of type + data, 16-bit length, type: full/first/middle/last).
// A reader tells a torn tail (damage that runs to the end of the file: a write cut short) from
// corruption before the tail (valid records follow the damage), and says where it stopped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dfs::master {

inline constexpr size_t kLogBlockSize = 32 * 1024;
inline constexpr size_t kLogHeaderSize = 7;

// Appends framed records to an in-memory buffer; the caller writes the buffer to the file.
class LogWriter {
 public:
  // file_size: bytes already in the file the output will be appended to.
  explicit LogWriter(uint64_t file_size = 0) : block_offset_(file_size % kLogBlockSize) {}
  void add(std::string_view record, std::string* out);

 private:
  size_t block_offset_;
};

class LogReader {
 public:
  enum class Outcome { kRecord, kEnd, kTornTail, kCorrupt };

  explicit LogReader(std::string_view file) : file_(file) {}
  // kRecord: *record holds the next record. kEnd: clean end of file. kTornTail: the rest of the
  // file is damaged and holds no valid record; validEnd() is where a writer may truncate.
  // kCorrupt: damage at errorOffset() with valid records after it.
  Outcome next(std::string* record);
  // Byte offset just past the last whole record returned.
  uint64_t validEnd() const { return valid_end_; }
  uint64_t errorOffset() const { return error_offset_; }
  const std::string& errorReason() const { return error_reason_; }

 private:
  enum class Fragment { kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4 };
  // Reads one fragment at position_; false on damage (reason set).
  bool readFragment(Fragment* type, std::string_view* data);
  // True when a whole record's first fragment starts somewhere after offset.
  bool recordStartsAfter(uint64_t offset) const;
  Outcome damaged(uint64_t at, std::string reason);

  std::string_view file_;
  uint64_t position_ = 0;
  uint64_t valid_end_ = 0;
  uint64_t error_offset_ = 0;
  std::string error_reason_;
};

}  // namespace dfs::master
