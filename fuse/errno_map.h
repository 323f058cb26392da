// The one place where a Status becomes an errno (the FUSE edge).
#pragma once

#include "lib/base/status.h"

namespace dfs::fuse {

int toErrno(const Status& status);

}  // namespace dfs::fuse
