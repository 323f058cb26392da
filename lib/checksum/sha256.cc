#include "lib/checksum/sha256.h"

#include <openssl/evp.h>

#include <cstdio>

namespace dfs {

struct Sha256::EvpState {
  EVP_MD_CTX* ctx;
};

Sha256::Sha256() : state_(new EvpState{EVP_MD_CTX_new()}) {
  EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(state_->ctx);
  delete state_;
}

void Sha256::update(std::string_view data) { EVP_DigestUpdate(state_->ctx, data.data(), data.size()); }

std::string Sha256::hexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(state_->ctx, digest, &length);
  std::string hex;
  char byte[3];
  for (unsigned i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

std::string sha256Hex(std::string_view data) {
  Sha256 sha;
  sha.update(data);
  return sha.hexDigest();
}

}  // namespace dfs
