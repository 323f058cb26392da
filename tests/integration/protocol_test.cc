// Hostile bytes on the master's and a chunkserver's port: the connection is dropped, the
// server keeps running and the cluster keeps working.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <thread>

#include "lib/base/address.h"
#include "lib/client/dfs_client.h"
#include "lib/rpc/client.h"
#include "proto/chunk.pb.h"
#include "proto/master.pb.h"
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

// Well-framed requests for more than the master gives at once: refused with a clear error, and
// the master goes on serving.
TEST(ProtocolTest, RequestsBeyondTheMastersBoundsAreRefusedAndItKeepsServing) {
  Cluster cluster;
  std::string m = cluster.mount("m");
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  auto call = [&](const std::string& address, proto::Method method,
                  const google::protobuf::Message& request, std::string payload,
                  auto reply) -> Result<decltype(reply)> {
    auto client = rpc::Client::create(io.get_executor(), parseHostPort(address).value());
    return boost::asio::co_spawn(
               io, client->call<decltype(reply)>(method, request, {}, std::move(payload)),
               boost::asio::use_future)
        .get();
  };
  proto::CommitWritesRequest commits;
  for (int i = 0; i < 300; ++i) commits.add_commits()->set_ino(1);
  auto committed =
      call(cluster.masterAddress(), proto::COMMIT_WRITES, commits, "", proto::CommitWritesReply{});
  ASSERT_FALSE(committed);
  EXPECT_EQ(committed.error().code(), Code::kInvalid);
  for (uint32_t count : {0u, 1025u, 4000000000u}) {
    proto::ReserveChunksRequest reserve;
    reserve.set_count(count);
    auto reserved = call(cluster.masterAddress(), proto::RESERVE_CHUNKS, reserve, "",
                         proto::ReserveChunksReply{});
    ASSERT_FALSE(reserved) << count;
    EXPECT_EQ(reserved.error().code(), Code::kInvalid) << count;
  }

  work.reset();
  io.stop();
  runner.join();
  writeFile(m + "/after", "still serving");
  dropCaches();
  EXPECT_EQ(readFile(m + "/after"), "still serving");
}

// Creates a client answered itself name inode numbers of their own choosing: only numbers the
// master reserved to that session, each once, make a file.
TEST(ProtocolTest, CreatesBehindOnlyTakeNumbersReservedToTheirSession) {
  Cluster cluster;
  std::string m = cluster.mount("m");
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  auto client =
      rpc::Client::create(io.get_executor(), parseHostPort(cluster.masterAddress()).value());
  uint64_t request_id = 1;
  auto call = [&](proto::Method method, const google::protobuf::Message& request,
                  uint64_t session_id, auto reply) -> Result<decltype(reply)> {
    rpc::CallOptions options;
    options.session_id = session_id;
    options.request_id = request_id++;
    return boost::asio::co_spawn(io, client->call<decltype(reply)>(method, request, options),
                                 boost::asio::use_future)
        .get();
  };
  proto::ReserveInodesRequest reserve;
  reserve.set_count(8);
  EXPECT_FALSE(call(proto::RESERVE_INODES, reserve, 0, proto::ReserveInodesReply{}));  // no session
  proto::CreateSessionRequest hello;
  hello.set_host("test");
  auto session = call(proto::CREATE_SESSION, hello, 0, proto::CreateSessionReply{});
  ASSERT_TRUE(session) << session.error().toString();
  uint64_t id = session->session_id();
  for (uint32_t count : {0u, 100000u}) {
    reserve.set_count(count);
    auto refused = call(proto::RESERVE_INODES, reserve, id, proto::ReserveInodesReply{});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Code::kInvalid);
  }
  reserve.set_count(8);
  auto reserved = call(proto::RESERVE_INODES, reserve, id, proto::ReserveInodesReply{});
  ASSERT_TRUE(reserved) << reserved.error().toString();
  ASSERT_EQ(reserved->count(), 8u);
  uint64_t first = reserved->first();

  proto::ChangesBehindRequest changes;
  auto create = [&](const std::string& name, uint64_t ino, uint32_t mode) {
    auto* change = changes.add_changes();
    change->set_request_id(request_id++);
    auto* one = change->mutable_create();
    one->set_parent(client::kRootIno);
    one->set_name(name);
    one->set_mode(mode);
    one->set_open(true);
    one->set_ino(ino);
  };
  create("made", first, S_IFREG | 0644);
  create("twice", first, S_IFREG | 0644);          // used already
  create("below", first - 1, S_IFREG | 0644);      // not reserved
  create("beyond", first + 8, S_IFREG | 0644);     // not reserved
  create("directory", first + 1, S_IFDIR | 0755);  // files only
  create("unnumbered", 0, S_IFREG | 0644);
  changes.add_changes()->set_request_id(request_id++);  // empty
  create("later", first + 5, S_IFREG | 0644);
  auto mkdir = [&](const std::string& name, uint64_t ino, bool hold) {
    auto* change = changes.add_changes();
    change->set_request_id(request_id++);
    auto* one = change->mutable_mkdir();
    one->set_parent(client::kRootIno);
    one->set_name(name);
    one->set_mode(0755);
    one->set_hold(hold);
    one->set_ino(ino);
  };
  mkdir("unheld", first + 6, false);  // a directory made behind is held by its maker
  mkdir("sub", first + 6, true);
  auto set_attr = [&](uint32_t valid) {
    auto* change = changes.add_changes();
    change->set_request_id(request_id++);
    auto* one = change->mutable_set_attr();
    one->set_ino(first + 6);
    one->set_valid(valid);
    one->set_mode(0700);
    one->set_size(4096);
    one->set_mtime_ns(1'000'000'000'000'000'000);
  };
  set_attr(proto::SET_SIZE | proto::SET_MODE);  // sizes go with commits
  set_attr(proto::SET_MODE | proto::SET_MTIME);
  auto answered = call(proto::CHANGES_BEHIND, changes, id, proto::ChangesBehindReply{});
  ASSERT_TRUE(answered) << answered.error().toString();
  ASSERT_EQ(answered->results_size(), 12);
  EXPECT_EQ(answered->results(0).status(), 0) << answered->results(0).message();
  EXPECT_EQ(answered->results(0).reply().attr().ino(), first);
  for (int i = 1; i < 7; ++i) {
    EXPECT_EQ(answered->results(i).status(), static_cast<int>(Code::kInvalid)) << i;
  }
  EXPECT_EQ(answered->results(7).status(), 0) << answered->results(7).message();
  EXPECT_EQ(answered->results(8).status(), static_cast<int>(Code::kInvalid));
  EXPECT_EQ(answered->results(9).status(), 0) << answered->results(9).message();
  EXPECT_EQ(answered->results(10).status(), static_cast<int>(Code::kInvalid));
  EXPECT_EQ(answered->results(11).status(), 0) << answered->results(11).message();
  EXPECT_EQ(answered->results(11).reply().attr().mode(), S_IFDIR | 0700);
  // Another session may not use them.
  auto other = call(proto::CREATE_SESSION, hello, 0, proto::CreateSessionReply{});
  ASSERT_TRUE(other);
  changes.Clear();
  create("stranger", first + 7, S_IFREG | 0644);
  answered = call(proto::CHANGES_BEHIND, changes, other->session_id(), proto::ChangesBehindReply{});
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->results(0).status(), static_cast<int>(Code::kInvalid));
  // Too many in one batch.
  changes.Clear();
  for (int i = 0; i < 300; ++i) create("n" + std::to_string(i), first + 7, S_IFREG | 0644);
  auto crowded = call(proto::CHANGES_BEHIND, changes, id, proto::ChangesBehindReply{});
  ASSERT_FALSE(crowded);
  EXPECT_EQ(crowded.error().code(), Code::kInvalid);

  // Ended, so that nobody waits for it to answer for the directory it holds.
  proto::CloseSessionRequest bye;
  bye.set_session_id(id);
  EXPECT_TRUE(call(proto::CLOSE_SESSION, bye, id, proto::CloseSessionReply{}));
  work.reset();
  io.stop();
  runner.join();
  EXPECT_EQ(sh("ls " + m + " | tr '\\n' ' '").output, "later made sub ");
  EXPECT_EQ(sh("stat -c %i " + m + "/made").output, std::to_string(first) + "\n");
  EXPECT_EQ(sh("stat -c '%a %Y' " + m + "/sub").output, "700 1000000000\n");
}

// A commit that names a reserved chunk makes it the file's first chunk: only a chunk reserved to
// the committing session, once, and only in place of a hole. A retried commit is answered as
// the first; a session's chunks nobody committed are released when it ends.
TEST(ProtocolTest, CommitsTakeOnlyChunksReservedToTheirSession) {
  Cluster cluster;
  std::string m = cluster.mount("m");
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  auto master = rpc::Client::create(io.get_executor(), parseHostPort(cluster.masterAddress()).value());
  uint64_t request_id = 1;
  auto call = [&](const std::shared_ptr<rpc::Client>& to, proto::Method method,
                  const google::protobuf::Message& request, uint64_t session_id, std::string payload,
                  auto reply, uint64_t id = 0) -> Result<decltype(reply)> {
    rpc::CallOptions options;
    options.session_id = session_id;
    options.request_id = id != 0 ? id : request_id++;
    return boost::asio::co_spawn(
               io, to->call<decltype(reply)>(method, request, options, std::move(payload)),
               boost::asio::use_future)
        .get();
  };
  proto::CreateSessionRequest hello;
  hello.set_host("test");
  auto session = call(master, proto::CREATE_SESSION, hello, 0, "", proto::CreateSessionReply{});
  auto stranger = call(master, proto::CREATE_SESSION, hello, 0, "", proto::CreateSessionReply{});
  ASSERT_TRUE(session && stranger);
  uint64_t id = session->session_id();
  proto::ReserveChunksRequest reserve;
  reserve.set_count(4);
  EXPECT_FALSE(call(master, proto::RESERVE_CHUNKS, reserve, 0, "", proto::ReserveChunksReply{}));
  auto reserved = call(master, proto::RESERVE_CHUNKS, reserve, id, "", proto::ReserveChunksReply{});
  ASSERT_TRUE(reserved) << reserved.error().toString();
  ASSERT_EQ(reserved->chunks_size(), 4);
  EXPECT_EQ(reserved->goal(), 3u);
  const proto::ChunkLocation& first = reserved->chunks(0);
  EXPECT_EQ(first.replicas_size(), 3);

  auto create = [&](const std::string& name) -> uint64_t {
    proto::MknodRequest mknod;
    mknod.set_parent(client::kRootIno);
    mknod.set_name(name);
    mknod.set_mode(S_IFREG | 0644);
    auto made = call(master, proto::MKNOD, mknod, id, "", proto::AttrReply{});
    EXPECT_TRUE(made) << made.error().toString();
    return made ? made->attr().ino() : 0;
  };
  uint64_t f = create("f");
  uint64_t g = create("g");
  // Written the way a close writes it, then committed naming it.
  proto::WriteChunkRequest write;
  write.set_chunk_id(reserved->chunks(1).chunk_id());
  write.set_version(1);
  write.set_create(true);
  for (const auto& address : reserved->chunks(1).replicas()) {
    auto chunkserver = rpc::Client::create(io.get_executor(), parseHostPort(address).value());
    ASSERT_TRUE(call(chunkserver, proto::WRITE_CHUNK, write, 0, "stored", proto::WriteChunkReply{}));
  }
  auto commit = [&](uint64_t ino, uint64_t chunk, uint64_t session_id, uint64_t call_id = 0) {
    proto::CommitWriteRequest request;
    request.set_ino(ino);
    request.set_min_size(6);
    request.set_reserved_chunk_id(chunk);
    return call(master, proto::COMMIT_WRITE, request, session_id, "", proto::AttrReply{}, call_id);
  };
  auto by_stranger = commit(f, reserved->chunks(1).chunk_id(), stranger->session_id());
  ASSERT_FALSE(by_stranger);
  EXPECT_EQ(by_stranger.error().code(), Code::kInvalid);
  uint64_t first_commit_id = request_id++;
  auto committed = commit(f, reserved->chunks(1).chunk_id(), id, first_commit_id);
  ASSERT_TRUE(committed) << committed.error().toString();
  EXPECT_EQ(committed->attr().size(), 6u);
  auto retried = commit(f, reserved->chunks(1).chunk_id(), id, first_commit_id);
  ASSERT_TRUE(retried) << retried.error().toString();
  auto twice = commit(g, reserved->chunks(1).chunk_id(), id);  // used
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code(), Code::kInvalid);
  auto passed_over = commit(g, first.chunk_id(), id);  // below a used one: released
  ASSERT_FALSE(passed_over);
  EXPECT_EQ(passed_over.error().code(), Code::kInvalid);
  auto over_data = commit(f, reserved->chunks(2).chunk_id(), id);  // f has a chunk 0
  ASSERT_FALSE(over_data);
  EXPECT_EQ(over_data.error().code(), Code::kExists);
  auto beyond = commit(g, reserved->chunks(3).chunk_id() + 1, id);
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().code(), Code::kInvalid);

  for (uint64_t ended : {id, stranger->session_id()}) {
    proto::CloseSessionRequest bye;
    bye.set_session_id(ended);
    EXPECT_TRUE(call(master, proto::CLOSE_SESSION, bye, ended, "", proto::CloseSessionReply{}));
  }
  work.reset();
  io.stop();
  runner.join();
  EXPECT_EQ(readFile(m + "/f"), "stored");
  EXPECT_EQ(sh("stat -c %s " + m + "/g").output, "0\n");
  auto fsck = sh(Cluster::binary("tools/dfs") + " --master " + cluster.masterAddress() + " fsck");
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
}

}  // namespace
}  // namespace dfs::testing
