// The FUSE low-level operations table of mount.dfs. Each operation translates its request into
// a DfsClient call started on the client's thread and replies from the completion, so FUSE
// threads never wait on the network.
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <mutex>
#include <set>
#include <utility>

#include "fuse/cache_invalidator.h"
#include "fuse/page_cache_filler.h"
#include "lib/client/dfs_client.h"

namespace dfs::fuse {

// How far ahead of a sequential reader the kernel may read (offered at INIT; the mount raises
// its device's read_ahead_kb to it, fuse/kernel_readahead.h).
inline constexpr uint32_t kMaxReadahead = 1 << 20;

struct MountContext {
  client::DfsClient* client = nullptr;
  fuse_session* session = nullptr;
  CacheInvalidator* invalidator = nullptr;
  PageCacheFiller* filler = nullptr;
  double attr_timeout = 1.0;
  double entry_timeout = 1.0;
  // Write-only opens bypass the kernel's page cache (FOPEN_DIRECT_IO): a writer's data is
  // copied once, straight from its pages into the request, instead of into page-cache pages
  // first that nobody reads through this descriptor (it cannot read, nor be mapped).
  bool direct_writes = true;
};

inline MountContext& mountContext(fuse_req_t req) {
  return *static_cast<MountContext*>(fuse_req_userdata(req));
}

// What fi->fh of an open file points to.
struct OpenFile {
  int flags = 0;
  // Opened with FOPEN_DIRECT_IO: the kernel sends no fsync after a synchronous write through it
  // (it does after a cached one), so the write itself waits for its data to be durable.
  bool direct = false;
  std::mutex mutex;
  // (kind, owner) of the locks taken through this open file: released with it.
  std::set<std::pair<proto::LockKind, uint64_t>> lock_owners;
};
inline OpenFile& openFile(const fuse_file_info* fi) { return *reinterpret_cast<OpenFile*>(fi->fh); }

const fuse_lowlevel_ops& operations();
// The lock operations (fuse/lock_operations.cc) go into ops.
void addLockOperations(fuse_lowlevel_ops& ops);

}  // namespace dfs::fuse
