// What DfsClient knows lately of inodes it does not hold: mode, owners and whether they have
// extended attributes (a getxattr or a create's umask is answered from it).
#include <sys/stat.h>

#include "lib/client/internal.h"

namespace dfs::client {

void DfsClient::notePermissions(const proto::Attr& attr) {
  if (attr.ino() == 0) return;
  // Forgetting costs only a call to the master per inode checked again.
  if (known_permissions_.size() >= kMaxKnownPermissions) known_permissions_.clear();
  proto::Attr current = attr;
  overlayLocalState(&current);  // a mode change waiting for the file's commit
  known_permissions_[attr.ino()] = {current.mode(), current.uid(), current.gid(),
                                    current.has_xattrs(), std::chrono::steady_clock::now()};
}

bool DfsClient::knownWithoutXattrs(uint64_t ino) const {
  auto now = std::chrono::steady_clock::now();
  if (auto fresh = fresh_dirs_.find(ino); fresh != fresh_dirs_.end()) {
    if (held_dirs_.contains(ino) || now - fresh->second.second < options_.fresh_attr_ttl) {
      return !fresh->second.first.has_xattrs();
    }
  }
  // An open file's attributes stay as fresh as its reads keep them (readAround); the kernel
  // asks for security.capability before every write through its page cache.
  if (auto file = files_.find(ino);
      file != files_.end() && file->second->opens > 0 && file->second->attr) {
    return !file->second->attr->has_xattrs();
  }
  auto known = known_permissions_.find(ino);
  return known != known_permissions_.end() && now - known->second.at < options_.fresh_attr_ttl &&
         !known->second.has_xattrs;
}

bool DfsClient::maskHereWithoutDefaultAcl(uint64_t dir, uint32_t* mode, uint32_t* umask) const {
  // With a default ACL in dir (or not knowing), the master decides: its entries mask the mode.
  if (!knownWithoutXattrs(dir)) return false;
  *mode &= ~(*umask & 0777);
  *umask = 0;
  return true;
}

}  // namespace dfs::client
