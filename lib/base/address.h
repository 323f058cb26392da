// HOST:PORT endpoints as written on command lines and carried on the wire.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace dfs {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string toString() const { return host + ":" + std::to_string(port); }
};

// Accepts "host:port" and "[v6]:port"; the port may be 0 (pick a free one) only where
// allow_zero_port is set.
Result<HostPort> parseHostPort(std::string_view text, bool allow_zero_port = false);

}  // namespace dfs
