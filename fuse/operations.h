// The FUSE low-level operations table of mount.dfs. Each operation translates its request into
// a DfsClient call started on the client's thread and replies from the completion, so FUSE
// threads never wait on the network.
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "lib/client/dfs_client.h"

namespace dfs::fuse {

struct MountContext {
  client::DfsClient* client = nullptr;
  fuse_session* session = nullptr;
  double attr_timeout = 1.0;
  double entry_timeout = 1.0;
};

const fuse_lowlevel_ops& operations();

}  // namespace dfs::fuse
