#include "lib/client/mount_table.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace dfs::client {
namespace {

// /proc/mounts escapes blanks and backslashes as octal (\040).
std::string unescapeMountField(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int value = (field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0');
      out.push_back(static_cast<char>(value));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

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
