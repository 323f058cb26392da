// Hostile bytes on the master's and a chunkserver's port: the connection is dropped, the
// server keeps running and the cluster keeps working.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "lib/base/address.h"
#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

// Sends bytes and reports whether the peer closed the connection (read returns 0 or reset).
bool peerClosesAfter(const std::string& address_text, const std::string& bytes) {
  auto address = parseHostPort(address_text).value();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(address.port);
  ::inet_pton(AF_INET, address.host.c_str(), &peer.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
    ::close(fd);
    return false;
  }
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  char sink[64];
  ssize_t n = ::recv(fd, sink, sizeof sink, 0);
  ::close(fd);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

std::vector<std::string> hostileInputs() {
  std::string random(100000, '\0');
  uint32_t state = 12345;
  for (auto& byte : random) {
    state = state * 1103515245 + 12345;
    byte = static_cast<char>(state >> 16);
  }
  return {
      std::string("\xff\xff\xff\xff\x00\x00\x00\x04", 8),            // 4 GiB frame
      std::string("\x00\x00\x00\x08\x00\x01\x00\x00" "abcd", 12),       // header bigger than frame
      std::string("\x00\x00\x00\x0c\x00\x00\x00\x08\xff\xff\xff\xff\xff\xff\xff\xff", 16),
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      random,
  };
}

TEST(ProtocolTest, GarbageClosesTheConnectionAndTheClusterKeepsWorking) {
  Cluster cluster;
  std::string m = cluster.mount("m");
  writeFile(m + "/before", "still here");
  for (const auto& target : {cluster.masterAddress(), cluster.chunkserverAddress(0)}) {
    for (const auto& input : hostileInputs()) {
      EXPECT_TRUE(peerClosesAfter(target, input)) << target << " kept a bad connection open";
    }
  }
  EXPECT_EQ(readFile(m + "/before"), "still here");
  writeFile(m + "/after", std::string(3 << 20, 'a'));
  dropCaches();
  EXPECT_EQ(readFile(m + "/after"), std::string(3 << 20, 'a'));
  auto status = sh(Cluster::binary("tools/dfs") + " --master " + cluster.masterAddress() + " status");
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.output.find("chunkservers: 3 up of 3"), std::string::npos) << status.output;
}

}  // namespace
}  // namespace dfs::testing
