#include "lib/client/deferred_attrs.h"

#include <sys/stat.h>

namespace dfs::client {

std::optional<proto::Attr> applyDeferrable(const proto::Attr& current,
                                           const proto::SetAttrRequest& request, int64_t now_ns) {
  constexpr uint32_t kDeferrable = proto::SET_MODE | proto::SET_UID | proto::SET_GID |
                                   proto::SET_ATIME | proto::SET_ATIME_NOW | proto::SET_MTIME |
                                   proto::SET_MTIME_NOW;
  uint32_t valid = request.valid();
  if (valid == 0 || (valid & ~kDeferrable) != 0) return std::nullopt;
  if (!S_ISREG(current.mode())) return std::nullopt;
  proto::Attr next = current;
  if (valid & (proto::SET_UID | proto::SET_GID)) {
    // A real change of owner must be seen at once, and even a same-owner chown clears set-id
    // bits, which only the master does.
    if ((valid & proto::SET_UID) && request.uid() != current.uid()) return std::nullopt;
    if ((valid & proto::SET_GID) && request.gid() != current.gid()) return std::nullopt;
    if (current.mode() & (S_ISUID | S_ISGID)) return std::nullopt;
  }
  if (valid & proto::SET_MODE) {
    uint32_t old_bits = current.mode() & 07777;
    uint32_t new_bits = request.mode() & 07777;
    if ((old_bits & ~new_bits) != 0) return std::nullopt;  // takes a permission away
    next.set_mode((current.mode() & S_IFMT) | new_bits);
  }
  if (valid & proto::SET_ATIME) next.set_atime_ns(request.atime_ns());
  if (valid & proto::SET_ATIME_NOW) next.set_atime_ns(now_ns);
  if (valid & proto::SET_MTIME) next.set_mtime_ns(request.mtime_ns());
  if (valid & proto::SET_MTIME_NOW) next.set_mtime_ns(now_ns);
  next.set_ctime_ns(now_ns);
  return next;
}

}  // namespace dfs::client
