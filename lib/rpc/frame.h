// The frame format, independent of any transport:
//   u32 length | u32 header_length | RpcHeader | body | payload      (integers big-endian)
// length counts everything after itself. Every size is bounded before memory is allocated for
// it, so a hostile peer cannot make a server allocate more than one frame's worth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lib/base/file_region.h"
#include "lib/base/status.h"
#include "proto/rpc.pb.h"

namespace dfs::rpc {

inline constexpr size_t kFramePrefixSize = 8;          // length + header_length
inline constexpr size_t kMaxHeaderSize = 64 * 1024;
inline constexpr size_t kMaxBodySize = 16 * 1024 * 1024;
inline constexpr size_t kMaxPayloadSize = 8 * 1024 * 1024;  // the largest chunk I/O
inline constexpr size_t kMaxFrameSize = 4 + kMaxHeaderSize + kMaxBodySize + kMaxPayloadSize;

// Payload bytes several sends share (a piece written to every replica, or kept for a retry):
// the frame refers to them instead of holding a copy.
using SharedPayload = std::shared_ptr<const std::string>;

struct Message {
  proto::RpcHeader header;
  std::string body;              // serialized protobuf
  std::string payload;           // raw bytes
  SharedPayload shared_payload;  // when set, sent as the payload instead (outgoing only)
  // When set, the payload is sent straight from this file instead (outgoing only).
  std::shared_ptr<const FileRegion> file_payload;

  const std::string& outgoingPayload() const { return shared_payload ? *shared_payload : payload; }
  size_t outgoingPayloadSize() const {
    return file_payload ? file_payload->size() : outgoingPayload().size();
  }
};

// Sizes decoded from the 8-byte prefix, already checked against the bounds.
struct FrameSizes {
  uint32_t header_size = 0;
  uint32_t rest_size = 0;  // header + body + payload
};
Result<FrameSizes> decodeFramePrefix(const unsigned char prefix[kFramePrefixSize]);

// Everything of a frame but the payload; header.body_size is set here.
std::string encodeFrameHead(proto::RpcHeader& header, std::string_view body, size_t payload_size);

}  // namespace dfs::rpc
