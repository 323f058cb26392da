#include "fuse/kernel_readahead.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "lib/base/files.h"

namespace dfs::fuse {

std::optional<std::string> mountDevice(std::string_view mountinfo, std::string_view mount_point) {
  std::optional<std::string> device;
  std::istringstream lines{std::string(mountinfo)};
  std::string line;
  while (std::getline(lines, line)) {
    // id parent major:minor root mount-point ...
    std::istringstream fields(line);
    std::vector<std::string> first(5);
    for (auto& field : first) fields >> field;
    if (first[4].empty()) continue;
    if (unescapeMountField(first[4]) == mount_point) device = first[2];
  }
  return device;
}

Result<void> setKernelReadahead(const std::string& mount_point, uint32_t kib) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::stringstream text;
  text << mountinfo.rdbuf();
  auto device = mountDevice(text.str(), mount_point);
  if (!device) return makeError(Code::kNotFound, fmt::format("{} is not mounted", mount_point));
  std::string path = fmt::format("/sys/class/bdi/{}/read_ahead_kb", *device);
  std::ofstream setting(path);
  setting << kib << '\n';
  setting.flush();
  if (!setting) return makeError(Code::kIo, fmt::format("cannot write {}", path));
  return {};
}

}  // namespace dfs::fuse
