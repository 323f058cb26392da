#include "lib/base/address.h"

#include <charconv>

namespace dfs {

Result<HostPort> parseHostPort(std::string_view text, bool allow_zero_port) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return makeError(Code::kInvalid, "expected HOST:PORT, got '" + std::string(text) + "'");
  }
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
      (port == 0 && !allow_zero_port)) {
    return makeError(Code::kInvalid, "bad port in '" + std::string(text) + "'");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

}  // namespace dfs
