// One logging setup for every binary: spdlog to stderr, level from --log-level.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace dfs {

void setupLogging(const std::string& process_name, const std::string& level);

}  // namespace dfs
