// Small file helpers shared by the servers.
#pragma once

#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace dfs {

// Writes content to path through a temporary file and rename, so readers see the old file or
// the whole new one. With sync, the file and its directory are fsynced (durable).
Result<void> writeFileAtomically(const std::string& path, const std::string& content,
                                 bool sync = false);

// A path field of /proc/*/mounts or mountinfo as it is: the kernel writes blanks, newlines and
// backslashes in it as octal escapes (\040).
std::string unescapeMountField(std::string_view field);

}  // namespace dfs
