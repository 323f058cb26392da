// SHA-256 (OpenSSL EVP) for whole-replica comparisons and tests.
#pragma once

#include <string>
#include <string_view>

namespace dfs {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  // Lower-case hex digest; the object is spent afterwards.
  std::string hexDigest();

 private:
  struct EvpState;
  EvpState* state_;
};

std::string sha256Hex(std::string_view data);

}  // namespace dfs
