// Small file helpers shared by the servers.
#pragma once

#include <string>

#include "lib/base/status.h"

namespace dfs {

// Writes content to path through a temporary file and rename, so readers see the old file or
// the whole new one. With sync, the file and its directory are fsynced (durable).
Result<void> writeFileAtomically(const std::string& path, const std::string& content,
                                 bool sync = false);

}  // namespace dfs
