// The kernel reads ahead of a sequential reader of a FUSE file at most as far as the mount's
// backing device allows (read_ahead_kb, 128 KiB by default), whatever larger window the file
// system offers at INIT. Reads then arrive as 128 KiB requests, each a round trip through the
// mount; raising it to the 1 MiB the mount offers made sequential reads 20-30% faster.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace dfs::fuse {

// "MAJOR:MINOR" of the file system mounted at mount_point (the last such line of a
// /proc/self/mountinfo text), or nullopt.
std::optional<std::string> mountDevice(std::string_view mountinfo, std::string_view mount_point);

// Sets read_ahead_kb of the device of the FUSE mount at mount_point (needs root).
Result<void> setKernelReadahead(const std::string& mount_point, uint32_t kib);

}  // namespace dfs::fuse
