#include "lib/client/mount_table.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/base/files.h"

namespace dfs::client {
namespace {

bool isUnder(std::string_view path, std::string_view mount_point) {
  if (mount_point == "/") return true;
  return path.starts_with(mount_point) &&
         (path.size() == mount_point.size() || path[mount_point.size()] == '/');
}

}  // namespace

std::optional<ClusterPath> locateOnMount(std::string_view absolute_path, std::string_view mounts) {
  std::optional<ClusterPath> best;
  std::istringstream lines{std::string(mounts)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string source, target, type;
    if (!(fields >> source >> target >> type)) continue;
    if (type != "fuse.dfs") continue;
    target = unescapeMountField(target);
    if (!isUnder(absolute_path, target)) continue;
    if (best && best->mount_point.size() >= target.size()) continue;
    auto master = parseHostPort(unescapeMountField(source));
    if (!master) continue;
    std::string inside(absolute_path.substr(target == "/" ? 0 : target.size()));
    if (inside.empty()) inside = "/";
    best = ClusterPath{*master, target, inside};
  }
  return best;
}

std::optional<ClusterPath> locateOnMount(const std::string& path) {
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec).lexically_normal().string();
  if (ec) return std::nullopt;
  if (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
  std::ifstream in("/proc/self/mounts");
  std::stringstream mounts;
  mounts << in.rdbuf();
  return locateOnMount(absolute, mounts.str());
}

}  // namespace dfs::client
