#include "lib/rpc/frame.h"

#include <fmt/format.h>

namespace dfs::rpc {
namespace {

uint32_t loadBigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void storeBigEndian32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

}  // namespace

Result<FrameSizes> decodeFramePrefix(const unsigned char prefix[kFramePrefixSize]) {
  uint32_t length = loadBigEndian32(prefix);
  uint32_t header_size = loadBigEndian32(prefix + 4);
  if (length < 4 || length > kMaxFrameSize) {
    return makeError(Code::kProtocol, fmt::format("frame length {} out of bounds", length));
  }
  if (header_size == 0 || header_size > kMaxHeaderSize || header_size > length - 4) {
    return makeError(Code::kProtocol, fmt::format("header length {} out of bounds", header_size));
  }
  return FrameSizes{header_size, length - 4};
}

std::string encodeFrameHead(proto::RpcHeader& header, std::string_view body, size_t payload_size) {
  header.set_body_size(static_cast<uint32_t>(body.size()));
  size_t header_size = header.ByteSizeLong();
  std::string out(kFramePrefixSize + header_size + body.size(), '\0');
  storeBigEndian32(out.data(), static_cast<uint32_t>(4 + header_size + body.size() + payload_size));
  storeBigEndian32(out.data() + 4, static_cast<uint32_t>(header_size));
  header.SerializeToArray(out.data() + kFramePrefixSize, static_cast<int>(header_size));
  std::copy(body.begin(), body.end(), out.begin() + kFramePrefixSize + header_size);
  return out;
}

}  // namespace dfs::rpc
