// The channel between a chunkserver and the clients on its machine (short-circuit reads): a
// Unix socket over which the chunkserver hands a client read-only descriptors of replica files,
// so that the client reads and verifies chunk data itself instead of receiving it over TCP.
//
// Every frame has a fixed size and starts with kLocalChannelMagic:
//   chunkserver -> client, once on accept:  LocalHello (the chunkserver's instance token, which
//                                            its TCP service also gives out: a client compares
//                                            the two to know the socket is that chunkserver's)
//   client -> chunkserver:                   LocalOpenRequest
//   chunkserver -> client:                   LocalOpenReply, with the descriptor (SCM_RIGHTS)
//                                            when code is 0
// A frame of the wrong size or with a bad magic closes the connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "lib/base/files.h"
#include "lib/base/status.h"

namespace dfs::rpc {

inline constexpr uint32_t kLocalChannelMagic = 0x4c534644;  // "DFSL"
inline constexpr size_t kLocalTokenSize = 16;

struct LocalHello {
  uint32_t magic = kLocalChannelMagic;
  uint32_t protocol = 1;
  std::array<uint8_t, kLocalTokenSize> token{};
};
struct LocalOpenRequest {
  uint32_t magic = kLocalChannelMagic;
  uint32_t reserved = 0;
  uint64_t chunk_id = 0;
  uint64_t version = 0;
};
struct LocalOpenReply {
  uint32_t magic = kLocalChannelMagic;
  int32_t code = 0;  // a dfs::Code
};
static_assert(sizeof(LocalHello) == 24 && sizeof(LocalOpenRequest) == 24 &&
              sizeof(LocalOpenReply) == 8);

// One sendmsg of a whole frame, with fd attached when it is not -1. kBusy: the socket's buffer is
// full (a non-blocking socket), nothing was sent.
Result<void> sendFrame(int socket, const void* frame, size_t size, int fd = -1);
// One recvmsg of exactly size bytes (kProtocol for fewer, kUnavailable at the end of the stream),
// taking over a descriptor that came with it. kBusy: nothing to read yet (non-blocking socket).
Result<void> receiveFrame(int socket, void* frame, size_t size, OwnedFd* fd = nullptr);

// Blocking client side (with timeout, in the calling thread): connects to path and checks that
// the hello carries token. kUnavailable when there is nothing to connect to.
Result<OwnedFd> connectLocalChannel(const std::string& path, const std::string& token,
                                    int timeout_ms);
// Asks for a read-only descriptor of a replica at version.
Result<OwnedFd> openReplicaOverChannel(int channel, uint64_t chunk_id, uint64_t version);

}  // namespace dfs::rpc
