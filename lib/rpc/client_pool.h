// One RPC client per peer address, created on first use. Thread-safe.
#pragma once

#include <boost/asio.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "lib/rpc/client.h"

namespace dfs::rpc {

class ClientPool {
 public:
  explicit ClientPool(asio::any_io_executor executor) : executor_(std::move(executor)) {}
  // nullptr when address is not HOST:PORT.
  std::shared_ptr<Client> get(const std::string& address);
  void closeAll();

 private:
  asio::any_io_executor executor_;
  std::mutex mutex_;  // guards clients_
  std::unordered_map<std::string, std::shared_ptr<Client>> clients_;
};

}  // namespace dfs::rpc
