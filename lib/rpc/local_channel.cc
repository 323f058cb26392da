#include "lib/rpc/local_channel.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dfs::rpc {

Result<void> sendFrame(int socket, const void* frame, size_t size, int fd) {
  iovec part{const_cast<void*>(frame), size};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(socket, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return makeError(Code::kBusy);
  if (sent < 0) return makeError(Code::kUnavailable, fmt::format("send: {}", std::strerror(errno)));
  // Frames are far smaller than any socket buffer: a partial send means a broken peer.
  if (static_cast<size_t>(sent) != size) return makeError(Code::kProtocol, "partial frame sent");
  return {};
}

Result<void> receiveFrame(int socket, void* frame, size_t size, OwnedFd* fd) {
  iovec part{frame, size};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t got;
  do {
    got = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  } while (got < 0 && errno == EINTR);
  // Descriptors that came along are taken over (and closed if not wanted) whatever else is wrong.
  OwnedFd passed;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int one;
      std::memcpy(&one, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      if (!passed && i == 0) {
        passed = OwnedFd(one);
      } else {
        ::close(one);
      }
    }
  }
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return makeError(Code::kBusy);
  if (got < 0) {
    return makeError(Code::kUnavailable, fmt::format("receive: {}", std::strerror(errno)));
  }
  if (got == 0) return makeError(Code::kUnavailable, "channel closed");
  if (static_cast<size_t>(got) != size || (message.msg_flags & MSG_CTRUNC) != 0) {
    return makeError(Code::kProtocol, "bad frame");
  }
  uint32_t magic;
  std::memcpy(&magic, frame, sizeof magic);
  if (magic != kLocalChannelMagic) return makeError(Code::kProtocol, "bad frame magic");
  if (fd != nullptr) *fd = std::move(passed);
  return {};
}

Result<OwnedFd> connectLocalChannel(const std::string& path, const std::string& token,
                                    int timeout_ms) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    return makeError(Code::kInvalid, "no usable socket path");
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  OwnedFd channel(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!channel) return makeError(Code::kIo, fmt::format("socket: {}", std::strerror(errno)));
  timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(channel.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(channel.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(channel.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return makeError(Code::kUnavailable, fmt::format("connect {}: {}", path, std::strerror(errno)));
  }
  LocalHello hello;
  DFS_RETURN_IF_ERROR(receiveFrame(channel.get(), &hello, sizeof hello));
  if (hello.protocol != 1 || token.size() != kLocalTokenSize ||
      std::memcmp(hello.token.data(), token.data(), kLocalTokenSize) != 0) {
    return makeError(Code::kInvalid, fmt::format("{} belongs to another chunkserver", path));
  }
  return channel;
}

Result<OwnedFd> openReplicaOverChannel(int channel, uint64_t chunk_id, uint64_t version) {
  LocalOpenRequest request;
  request.chunk_id = chunk_id;
  request.version = version;
  DFS_RETURN_IF_ERROR(sendFrame(channel, &request, sizeof request));
  LocalOpenReply reply;
  OwnedFd replica;
  DFS_RETURN_IF_ERROR(receiveFrame(channel, &reply, sizeof reply, &replica));
  if (reply.code != 0) {
    return makeError(codeFromWire(reply.code),
                     fmt::format("chunk {:#x} v{} not opened", chunk_id, version));
  }
  if (!replica) return makeError(Code::kProtocol, "no descriptor with the reply");
  return replica;
}

}  // namespace dfs::rpc
