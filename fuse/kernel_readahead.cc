#include "fuse/kernel_readahead.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace dfs::fuse {

namespace {

// mountinfo writes space, tab, newline and backslash in paths as \ooo.
std::string unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      auto octal = field.substr(i + 1, 3);
      if (octal.size() == 3 && octal.find_first_not_of("01234567") == std::string_view::npos) {
        out += static_cast<char>((octal[0] - '0') * 64 + (octal[1] - '0') * 8 + (octal[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

}  // namespace

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
    if (unescape(first[4]) == mount_point) device = first[2];
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
