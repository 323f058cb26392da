#include "server/chunkserver/local_reads.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "lib/rpc/local_channel.h"
#include "tests/unit/chunkserver/local_read_fixture.h"

namespace dfs::chunkserver {
namespace {

using LocalReadsTest = LocalReadFixture;

TEST_F(LocalReadsTest, HandsOutReadOnlyDescriptorsOfReplicasAtTheirVersion) {
  std::string data = patterned(200000);
  writeReplica(7, 3, data);
  auto channel = rpc::connectLocalChannel(server_->path(), server_->token(), 2000);
  ASSERT_TRUE(channel.has_value()) << channel.error().toString();

  auto file = rpc::openReplicaOverChannel(channel->get(), 7, 3);
  ASSERT_TRUE(file.has_value()) << file.error().toString();
  std::string read(data.size(), '\0');
  ASSERT_EQ(::pread(file->get(), read.data(), read.size(), kReplicaDataOffset),
            static_cast<ssize_t>(read.size()));
  EXPECT_EQ(read, data);
  EXPECT_LT(::pwrite(file->get(), "x", 1, kReplicaDataOffset), 0);  // read-only

  auto stale = rpc::openReplicaOverChannel(channel->get(), 7, 2);
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code(), Code::kStale);
  auto absent = rpc::openReplicaOverChannel(channel->get(), 8, 1);
  ASSERT_FALSE(absent.has_value());
  EXPECT_EQ(absent.error().code(), Code::kNotFound);
  // The channel goes on after refusals.
  EXPECT_TRUE(rpc::openReplicaOverChannel(channel->get(), 7, 3).has_value());
}

TEST_F(LocalReadsTest, TheSocketIsForItsOwnerOnlyAndNamesItsChunkserver) {
  struct stat st {};
  ASSERT_EQ(::stat(server_->path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0077, 0u);
  EXPECT_EQ(server_->token().size(), rpc::kLocalTokenSize);

  std::string other_token(rpc::kLocalTokenSize, 'x');
  auto wrong = rpc::connectLocalChannel(server_->path(), other_token, 2000);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), Code::kInvalid);
  auto nowhere = rpc::connectLocalChannel(dir_ + "/no-such.sock", server_->token(), 2000);
  ASSERT_FALSE(nowhere.has_value());
  EXPECT_EQ(nowhere.error().code(), Code::kUnavailable);
}

TEST_F(LocalReadsTest, ABadFrameEndsItsConnectionAndTheServerGoesOn) {
  writeReplica(7, 1, patterned(1000));
  auto channel = rpc::connectLocalChannel(server_->path(), server_->token(), 2000);
  ASSERT_TRUE(channel.has_value());
  char garbage[24];
  std::memset(garbage, 0xab, sizeof garbage);
  ASSERT_EQ(::send(channel->get(), garbage, sizeof garbage, MSG_NOSIGNAL), 24);
  char byte;
  EXPECT_EQ(::recv(channel->get(), &byte, 1, 0), 0);  // closed by the server

  // A frame cut short, then the client goes away.
  auto other = rpc::connectLocalChannel(server_->path(), server_->token(), 2000);
  ASSERT_TRUE(other.has_value());
  rpc::LocalOpenRequest request;
  ASSERT_EQ(::send(other->get(), &request, 10, MSG_NOSIGNAL), 10);
  other->reset();

  auto fresh = rpc::connectLocalChannel(server_->path(), server_->token(), 2000);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_TRUE(rpc::openReplicaOverChannel(fresh->get(), 7, 1).has_value());
}

TEST_F(LocalReadsTest, ARestartReplacesTheSocketAndTheToken) {
  std::string first_token = server_->token();
  stopServer();
  struct stat st {};
  EXPECT_NE(::stat((dir_ + "/local-reads.sock").c_str(), &st), 0);  // removed on stop
  // A socket file left by a crash is replaced.
  int leftover = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string path = dir_ + "/local-reads.sock";
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(leftover, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ::close(leftover);
  startServer();
  EXPECT_NE(server_->token(), first_token);
  EXPECT_FALSE(rpc::connectLocalChannel(server_->path(), first_token, 2000).has_value());
  EXPECT_TRUE(rpc::connectLocalChannel(server_->path(), server_->token(), 2000).has_value());
}

}  // namespace
}  // namespace dfs::chunkserver
