// Finds which DFS cluster a local path lives on: mount.dfs mounts with fsname=HOST:PORT and
// type fuse.dfs, so /proc/self/mounts names the master of every DFS mount.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lib/base/address.h"

namespace dfs::client {

struct ClusterPath {
  HostPort master;
  std::string mount_point;
  std::string path;  // inside the cluster, starting with "/"
};

// absolute_path must be absolute and normalised; mounts is the text of /proc/self/mounts.
std::optional<ClusterPath> locateOnMount(std::string_view absolute_path, std::string_view mounts);

// The same, for any path given by a user (relative paths from the working directory).
std::optional<ClusterPath> locateOnMount(const std::string& path);

}  // namespace dfs::client
