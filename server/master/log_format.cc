#include "server/master/log_format.h"

#include <cstring>

#include "lib/checksum/crc32c.h"

namespace dfs::master {
namespace {

uint32_t fragmentCrc(uint8_t type, std::string_view data) {
  return crc32c(data, crc32c(&type, 1));
}

void appendFragment(uint8_t type, std::string_view data, std::string* out) {
  char header[kLogHeaderSize];
  uint32_t crc = fragmentCrc(type, data);
  std::memcpy(header, &crc, 4);
  header[4] = static_cast<char>(data.size() & 0xff);
  header[5] = static_cast<char>(data.size() >> 8);
  header[6] = static_cast<char>(type);
  out->append(header, kLogHeaderSize);
  out->append(data);
}

}  // namespace

void LogWriter::add(std::string_view record, std::string* out) {
  bool first = true;
  do {
    size_t left_in_block = kLogBlockSize - block_offset_;
    if (left_in_block < kLogHeaderSize) {
      out->append(left_in_block, '\0');  // a header never straddles blocks
      block_offset_ = 0;
      left_in_block = kLogBlockSize;
    }
    size_t room = left_in_block - kLogHeaderSize;
    size_t length = std::min(room, record.size());
    bool last = length == record.size();
    uint8_t type = first && last ? 1 : first ? 2 : last ? 4 : 3;
    appendFragment(type, record.substr(0, length), out);
    record.remove_prefix(length);
    block_offset_ += kLogHeaderSize + length;
    first = false;
  } while (!record.empty());
}

bool LogReader::readFragment(Fragment* type, std::string_view* data) {
  size_t left_in_block = kLogBlockSize - position_ % kLogBlockSize;
  if (left_in_block < kLogHeaderSize) {
    position_ += left_in_block;  // block padding
  }
  if (position_ + kLogHeaderSize > file_.size()) {
    error_reason_ = "truncated fragment header";
    return false;
  }
  const char* header = file_.data() + position_;
  uint32_t crc;
  std::memcpy(&crc, header, 4);
  size_t length = static_cast<uint8_t>(header[4]) | (static_cast<uint8_t>(header[5]) << 8);
  uint8_t raw_type = static_cast<uint8_t>(header[6]);
  if (raw_type < 1 || raw_type > 4) {
    error_reason_ = "bad fragment type " + std::to_string(raw_type);
    return false;
  }
  if (position_ % kLogBlockSize + kLogHeaderSize + length > kLogBlockSize) {
    error_reason_ = "fragment crosses a block boundary";
    return false;
  }
  if (position_ + kLogHeaderSize + length > file_.size()) {
    error_reason_ = "truncated fragment";
    return false;
  }
  std::string_view payload = file_.substr(position_ + kLogHeaderSize, length);
  if (fragmentCrc(raw_type, payload) != crc) {
    error_reason_ = "checksum mismatch";
    return false;
  }
  *type = static_cast<Fragment>(raw_type);
  *data = payload;
  position_ += kLogHeaderSize + length;
  return true;
}

bool LogReader::recordStartsAfter(uint64_t offset) const {
  // Every later byte offset is a candidate: the damage may have hidden where fragments begin.
  // Only the start of a record (full or first fragment) with a matching checksum counts;
  // continuations may be the remains of the damaged record itself.
  for (uint64_t at = offset + 1; at + kLogHeaderSize <= file_.size(); ++at) {
    uint8_t type = static_cast<uint8_t>(file_[at + 6]);
    if (type != 1 && type != 2) continue;
    size_t length = static_cast<uint8_t>(file_[at + 4]) | (static_cast<uint8_t>(file_[at + 5]) << 8);
    if (at % kLogBlockSize + kLogHeaderSize + length > kLogBlockSize ||
        at + kLogHeaderSize + length > file_.size()) {
      continue;
    }
    uint32_t crc;
    std::memcpy(&crc, file_.data() + at, 4);
    if (fragmentCrc(type, file_.substr(at + kLogHeaderSize, length)) == crc) return true;
  }
  return false;
}

LogReader::Outcome LogReader::damaged(uint64_t at, std::string reason) {
  error_offset_ = at;
  error_reason_ = std::move(reason);
  return recordStartsAfter(at) ? Outcome::kCorrupt : Outcome::kTornTail;
}

LogReader::Outcome LogReader::next(std::string* record) {
  record->clear();
  bool in_record = false;
  uint64_t record_start = position_;
  for (;;) {
    if (!in_record) {
      // A clean end: nothing left, or only the zero padding of the last block.
      uint64_t rest = file_.size() - position_;
      if (rest == 0) return Outcome::kEnd;
      bool only_padding = rest < kLogHeaderSize &&
                          rest == kLogBlockSize - position_ % kLogBlockSize &&
                          file_.substr(position_).find_first_not_of('\0') == std::string_view::npos;
      if (only_padding) return Outcome::kEnd;
      record_start = position_;
    }
    uint64_t fragment_start = position_;
    Fragment type;
    std::string_view data;
    if (!readFragment(&type, &data)) {
      position_ = fragment_start;
      return damaged(in_record ? record_start : fragment_start, error_reason_);
    }
    switch (type) {
      case Fragment::kFull:
        if (in_record) return damaged(record_start, "full fragment inside a record");
        record->assign(data);
        valid_end_ = position_;
        return Outcome::kRecord;
      case Fragment::kFirst:
        if (in_record) return damaged(record_start, "first fragment inside a record");
        record->assign(data);
        in_record = true;
        break;
      case Fragment::kMiddle:
        if (!in_record) return damaged(fragment_start, "middle fragment without a first");
        record->append(data);
        break;
      case Fragment::kLast:
        if (!in_record) return damaged(fragment_start, "last fragment without a first");
        record->append(data);
        valid_end_ = position_;
        return Outcome::kRecord;
    }
  }
}

}  // namespace dfs::master
