// Runs the FUSE session on the client's own thread: requests are read from /dev/fuse and
// handled where the client's state lives, so no request crosses a thread on its way in (the
// handlers only start client operations and never block). Returns when the file system is
// unmounted or a SIGINT/SIGTERM/SIGHUP asks it to stop; non-zero on a device error.
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "lib/client/dfs_client.h"

namespace dfs::fuse {

int runSessionOnClientThread(fuse_session* session, client::DfsClient& client);

}  // namespace dfs::fuse
