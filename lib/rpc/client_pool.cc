#include "lib/rpc/client_pool.h"

namespace dfs::rpc {

std::shared_ptr<Client> ClientPool::get(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto it = clients_.find(address);
  if (it != clients_.end()) return it->second;
  auto parsed = parseHostPort(address);
  if (!parsed) return nullptr;
  auto client = Client::create(executor_, *parsed);
  clients_.emplace(address, client);
  return client;
}

void ClientPool::closeAll() {
  std::lock_guard lock(mutex_);
  for (auto& [address, client] : clients_) client->close();
}

}  // namespace dfs::rpc
