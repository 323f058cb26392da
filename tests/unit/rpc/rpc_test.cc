// The RPC layer over real TCP on 127.0.0.1: multiplexing, payloads, deadlines, errors, and
// hostile input that must close one connection and leave the server serving.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "lib/rpc/client.h"
#include "lib/rpc/server.h"
#include "proto/master.pb.h"

namespace dfs::rpc {
namespace {

using namespace std::chrono_literals;

class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(io_, io_.get_executor());
    // LOOKUP echoes the parent number back as the inode, after waiting name.size() ms, so
    // replies of concurrent calls come back out of order.
    server_->route<proto::LookupRequest, proto::AttrReply>(
        proto::LOOKUP, [this](CallContext& ctx, proto::LookupRequest& request)
                           -> awaitable<Result<proto::AttrReply>> {
          if (request.name() == "missing") co_return makeError(Code::kNotFound, "missing thing");
          if (request.name() == "further") {
            // an error this server passes on from a peer of its own
            co_return makeError(Status(Code::kIo, "disk").withOrigin("127.0.0.1:9"));
          }
          asio::steady_timer timer(io_, std::chrono::milliseconds(request.name().size()));
          co_await timer.async_wait(asio::use_awaitable);
          ctx.reply_payload.assign(ctx.payload.rbegin(), ctx.payload.rend());
          proto::AttrReply reply;
          reply.mutable_attr()->set_ino(request.parent());
          co_return reply;
        });
    auto bound = server_->listen({"127.0.0.1", 0});
    ASSERT_TRUE(bound);
    address_ = *bound;
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    asio::post(io_, [this] { server_->stop(); });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  template <class T>
  T run(asio::awaitable<T> operation) {
    return asio::co_spawn(io_, std::move(operation), asio::use_future).get();
  }

  awaitable<Result<proto::AttrReply>> lookup(std::shared_ptr<Client> client, uint64_t parent,
                                             std::string name, std::string payload = {},
                                             std::string* reply_payload = nullptr,
                                             std::chrono::milliseconds timeout = 5000ms) {
    proto::LookupRequest request;
    request.set_parent(parent);
    request.set_name(std::move(name));
    CallOptions options;
    options.timeout = timeout;
    co_return co_await client->call<proto::AttrReply>(proto::LOOKUP, request, options,
                                                      std::move(payload), reply_payload);
  }

  // Sends raw bytes on a fresh TCP connection; true when the server then closes it.
  bool serverClosesAfter(const std::string& bytes) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address(address_.host), address_.port});
    asio::write(socket, asio::buffer(bytes));
    char sink[256];
    boost::system::error_code ec;
    socket.read_some(asio::buffer(sink), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<Server> server_;
  HostPort address_;
  std::thread thread_;
};

TEST_F(RpcTest, ManyConcurrentCallsShareOneConnection) {
  auto client = Client::create(io_.get_executor(), address_);
  std::vector<std::future<Result<proto::AttrReply>>> futures;
  for (int i = 0; i < 200; ++i) {
    futures.push_back(
        asio::co_spawn(io_, lookup(client, i, std::string(i % 7, 'x')), asio::use_future));
  }
  for (int i = 0; i < 200; ++i) {
    auto reply = futures[i].get();
    ASSERT_TRUE(reply) << reply.error().toString();
    EXPECT_EQ(reply->attr().ino(), static_cast<uint64_t>(i));
  }
  EXPECT_EQ(server_->connectionCount(), 1u);
}

TEST_F(RpcTest, PayloadTravelsBesideTheBody) {
  auto client = Client::create(io_.get_executor(), address_);
  std::string payload(4 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31);
  std::string reply_payload;
  auto reply = run(lookup(client, 1, "p", payload, &reply_payload));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply_payload, std::string(payload.rbegin(), payload.rend()));
}

TEST_F(RpcTest, ASharedPayloadGoesToSeveralCallsUncopied) {
  auto client = Client::create(io_.get_executor(), address_);
  std::string bytes(1 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  auto shared = std::make_shared<const std::string>(bytes);
  auto send = [&](uint64_t parent) -> awaitable<Result<proto::AttrReply>> {
    proto::LookupRequest request;
    request.set_parent(parent);
    request.set_name("s");
    std::string reply_payload;
    auto reply = co_await client->callShared<proto::AttrReply>(proto::LOOKUP, request, {}, shared,
                                                               &reply_payload);
    EXPECT_EQ(reply_payload, std::string(bytes.rbegin(), bytes.rend()));
    co_return reply;
  };
  std::vector<std::future<Result<proto::AttrReply>>> futures;
  for (uint64_t i = 1; i <= 3; ++i) futures.push_back(asio::co_spawn(io_, send(i), asio::use_future));
  for (auto& future : futures) EXPECT_TRUE(future.get());
  EXPECT_EQ(*shared, bytes);  // the sender's bytes are untouched
}

// The server parses frames out of one receive buffer: frames that arrive together, a frame that
// dribbles in a few bytes at a time and a payload larger than the buffer must all come out whole.
TEST_F(RpcTest, FramesArrivingTogetherOrInPiecesAreEachAnswered) {
  auto frame = [](uint64_t call_id, uint64_t parent, const std::string& payload) {
    proto::LookupRequest request;
    request.set_parent(parent);
    request.set_name("f");
    proto::RpcHeader header;
    header.set_call_id(call_id);
    header.set_method(proto::LOOKUP);
    return encodeFrameHead(header, request.SerializeAsString(), payload.size()) + payload;
  };
  std::string big(200 << 10, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 13);
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address(address_.host), address_.port});
  asio::write(socket, asio::buffer(frame(1, 11, "ab") + frame(2, 22, "")));
  std::string dribbled = frame(3, 33, "xyz") + frame(4, 44, big);
  for (size_t at = 0, piece = 1; at < dribbled.size(); at += piece, piece = piece * 3 % 65537) {
    asio::write(socket, asio::buffer(dribbled.data() + at, std::min(piece, dribbled.size() - at)));
    if (at < 64) std::this_thread::sleep_for(1ms);  // the first pieces arrive one by one
  }

  std::map<uint64_t, std::pair<uint64_t, std::string>> replies;  // call id -> (ino, payload)
  for (int i = 0; i < 4; ++i) {
    unsigned char prefix[kFramePrefixSize];
    asio::read(socket, asio::buffer(prefix));
    auto sizes = decodeFramePrefix(prefix);
    ASSERT_TRUE(sizes);
    std::string rest(sizes->rest_size, '\0');
    asio::read(socket, asio::buffer(rest));
    proto::RpcHeader header;
    ASSERT_TRUE(header.ParseFromArray(rest.data(), static_cast<int>(sizes->header_size)));
    ASSERT_TRUE(header.is_response());
    ASSERT_EQ(header.status(), 0) << header.message();
    proto::AttrReply reply;
    ASSERT_TRUE(reply.ParseFromArray(rest.data() + sizes->header_size,
                                     static_cast<int>(header.body_size())));
    replies[header.call_id()] = {reply.attr().ino(),
                                 rest.substr(sizes->header_size + header.body_size())};
  }
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[1], std::make_pair(uint64_t{11}, std::string("ba")));
  EXPECT_EQ(replies[2], std::make_pair(uint64_t{22}, std::string()));
  EXPECT_EQ(replies[3], std::make_pair(uint64_t{33}, std::string("zyx")));
  EXPECT_EQ(replies[4].first, 44u);
  EXPECT_EQ(replies[4].second, std::string(big.rbegin(), big.rend()));
}

TEST_F(RpcTest, AReplyFromAFileRegionComesStraightFromTheFileThenZeros) {
  std::string path =
      std::filesystem::temp_directory_path() / ("rpc_region_" + std::to_string(::getpid()));
  std::string contents(3 << 20, '\0');
  for (size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>(i * 13 + i / 7);
  std::ofstream(path, std::ios::binary) << contents;
  // GET_ATTR answers with a region of the file: ino picks it. The second announces more file
  // bytes than the file has left (truncated after the read was answered): zeros make them up.
  struct Region {
    uint64_t offset, file_bytes, zero_bytes;
  };
  const std::vector<Region> regions = {{100, (2 << 20) + 5, 70000}, {(3 << 20) - 1000, 5000, 10}};
  server_->route<proto::GetAttrRequest, proto::AttrReply>(
      proto::GET_ATTR,
      [&](CallContext& ctx, proto::GetAttrRequest& request) -> awaitable<Result<proto::AttrReply>> {
        const Region& region = regions.at(request.ino());
        ctx.reply_file = std::make_shared<const FileRegion>(
            ::open(path.c_str(), O_RDONLY), region.offset, region.file_bytes, region.zero_bytes);
        co_return proto::AttrReply{};
      });
  auto client = Client::create(io_.get_executor(), address_);
  for (uint64_t i = 0; i < regions.size(); ++i) {
    proto::GetAttrRequest request;
    request.set_ino(i);
    std::string payload;
    auto reply = run(client->call<proto::AttrReply>(proto::GET_ATTR, request, {}, {}, &payload));
    ASSERT_TRUE(reply) << reply.error().toString();
    std::string expected = contents.substr(regions[i].offset, regions[i].file_bytes);
    expected.resize(regions[i].file_bytes + regions[i].zero_bytes, '\0');
    EXPECT_EQ(payload.size(), expected.size());
    EXPECT_TRUE(payload == expected) << "region " << i;
  }
  // The frames stayed whole: the connection still carries calls.
  std::string echoed;
  auto after = run(lookup(client, 9, "after", "abc", &echoed));
  ASSERT_TRUE(after) << after.error().toString();
  EXPECT_EQ(echoed, "cba");
  EXPECT_EQ(server_->connectionCount(), 1u);
  std::remove(path.c_str());
}

TEST_F(RpcTest, RemoteErrorsArriveAsStatus) {
  auto client = Client::create(io_.get_executor(), address_);
  auto reply = run(lookup(client, 1, "missing"));
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), Code::kNotFound);
  EXPECT_EQ(reply.error().message(), "missing thing");
}

TEST_F(RpcTest, AnErrorBelongsToThePeerThatAnsweredItOrTheOneItNames) {
  auto client = Client::create(io_.get_executor(), address_);
  auto own = run(lookup(client, 1, "missing"));
  ASSERT_FALSE(own);
  EXPECT_EQ(own.error().origin(), address_.toString());
  auto passed_on = run(lookup(client, 1, "further"));
  ASSERT_FALSE(passed_on);
  EXPECT_EQ(passed_on.error().code(), Code::kIo);
  EXPECT_EQ(passed_on.error().origin(), "127.0.0.1:9");
  // No answer at all: the peer that did not answer.
  HostPort nobody{"127.0.0.1", 1};
  auto unreachable = run(lookup(Client::create(io_.get_executor(), nobody), 1, "x"));
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().origin(), nobody.toString());
  EXPECT_EQ(unreachable.error().withContext("outer").origin(), nobody.toString());
}

TEST_F(RpcTest, CallPastItsDeadlineTimesOut) {
  auto client = Client::create(io_.get_executor(), address_);
  auto reply = run(lookup(client, 1, std::string(500, 'x'), {}, nullptr, 50ms));
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), Code::kTimeout);
  // The late reply is dropped and the connection keeps working.
  auto next = run(lookup(client, 2, "y"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->attr().ino(), 2u);
}

TEST_F(RpcTest, UnknownMethodAnswersNotSupported) {
  auto client = Client::create(io_.get_executor(), address_);
  auto reply = run(client->call<proto::AttrReply>(proto::RENAME, proto::RenameRequest{}));
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), Code::kNotSupported);
}

TEST_F(RpcTest, GarbageAndOversizedFramesCloseOnlyThatConnection) {
  auto client = Client::create(io_.get_executor(), address_);
  ASSERT_TRUE(run(lookup(client, 1, "a")));

  EXPECT_TRUE(serverClosesAfter(std::string("\xff\xff\xff\xff\x00\x00\x00\x10", 8)));
  EXPECT_TRUE(serverClosesAfter(std::string("\x00\x00\x00\x10\x00\x00\x00\x08garbage!garbage!", 24)));
  std::string random(4096, '\0');
  for (size_t i = 0; i < random.size(); ++i) random[i] = static_cast<char>((i * 7919) ^ 0x5a);
  EXPECT_TRUE(serverClosesAfter(random));

  // A well-framed request whose body does not parse as its message.
  proto::RpcHeader header;
  header.set_call_id(1);
  header.set_method(proto::LOOKUP);
  std::string bad_body = "\x0a\xff\xff\xff\xff\x0f";
  EXPECT_TRUE(serverClosesAfter(encodeFrameHead(header, bad_body, 0)));

  auto again = run(lookup(client, 9, "b"));
  ASSERT_TRUE(again) << again.error().toString();
  EXPECT_EQ(again->attr().ino(), 9u);
}

// A server whose handlers have threads of their own (the chunkserver's, which wait for the disk)
// goes on reading a connection while a handler waits: the request queued behind it is served.
TEST(RpcServerTest, AHandlerThatWaitsHoldsUpNoRequestBehindItOnItsConnection) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  asio::thread_pool handler_threads(2);
  Server server(io, handler_threads.get_executor());
  std::promise<void> released;
  std::shared_future<void> release = released.get_future().share();
  // "wait" blocks its thread until "release" has run, for 5 s at most; then it fails.
  server.route<proto::LookupRequest, proto::AttrReply>(
      proto::LOOKUP,
      [&](CallContext&, proto::LookupRequest& request) -> awaitable<Result<proto::AttrReply>> {
        if (request.name() == "release") {
          released.set_value();
        } else if (release.wait_for(5s) != std::future_status::ready) {
          co_return makeError(Code::kTimeout, "the request behind was never served");
        }
        co_return proto::AttrReply{};
      });
  auto bound = server.listen({"127.0.0.1", 0});
  ASSERT_TRUE(bound);
  std::thread network([&io] { io.run(); });

  auto client = Client::create(io.get_executor(), *bound);
  proto::LookupRequest wait_request, release_request;  // outlive the calls, which take references
  wait_request.set_name("wait");
  release_request.set_name("release");
  auto waiting = asio::co_spawn(io, client->call<proto::AttrReply>(proto::LOOKUP, wait_request),
                                asio::use_future);
  auto behind = asio::co_spawn(io, client->call<proto::AttrReply>(proto::LOOKUP, release_request),
                               asio::use_future);
  auto waited = waiting.get();
  EXPECT_TRUE(waited) << waited.error().toString();
  EXPECT_TRUE(behind.get());
  EXPECT_EQ(server.connectionCount(), 1u);

  asio::post(io, [&] { server.stop(); });
  work.reset();
  io.stop();
  network.join();
  handler_threads.join();
}

// serveInline: a small request runs on the network thread that read it, a larger one on the
// handler executor, and a handler that leaves the network thread continues on the executor.
TEST(RpcServerTest, SmallRequestsOfAnInlineMethodRunOnTheNetworkThread) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  asio::thread_pool handler_threads(1);
  Server server(io, handler_threads.get_executor());
  server.serveInline(proto::LOOKUP, 4);
  std::thread network([&io] { io.run(); });
  std::thread::id network_id = network.get_id();
  // The reply's inode: 1 where the handler began on the network thread, then 2 where its work
  // ran there.
  // (Outlives every call: its capture is safe in the coroutines it starts.)
  auto onNetwork = [&]() -> awaitable<uint64_t> {
    co_return std::this_thread::get_id() == network_id;
  };
  server.route<proto::LookupRequest, proto::AttrReply>(
      proto::LOOKUP,
      [&](CallContext& ctx, proto::LookupRequest& request) -> awaitable<Result<proto::AttrReply>> {
        proto::AttrReply reply;
        uint64_t began = std::this_thread::get_id() == network_id && ctx.on_network_thread;
        uint64_t worked = request.name() == "leave" ? co_await ctx.offNetworkThread(onNetwork())
                                                    : co_await onNetwork();
        reply.mutable_attr()->set_ino(began + 2 * worked);
        co_return reply;
      });
  auto bound = server.listen({"127.0.0.1", 0});
  ASSERT_TRUE(bound);
  auto client = Client::create(io.get_executor(), *bound);
  auto ran = [&](const std::string& name, std::string payload) -> uint64_t {
    proto::LookupRequest request;
    request.set_name(name);
    auto reply = asio::co_spawn(io, client->call<proto::AttrReply>(proto::LOOKUP, request, {},
                                                                   std::move(payload)),
                                asio::use_future)
                     .get();
    EXPECT_TRUE(reply) << reply.error().toString();
    return reply ? reply->attr().ino() : 99;
  };
  EXPECT_EQ(ran("stay", "abcd"), 3u);   // within the bound: on the network thread throughout
  EXPECT_EQ(ran("stay", "abcde"), 0u);  // over it: on the handler executor
  EXPECT_EQ(ran("leave", "ab"), 1u);    // began inline, moved off

  asio::post(io, [&] { server.stop(); });
  work.reset();
  io.stop();
  network.join();
  handler_threads.join();
}

TEST_F(RpcTest, ClientReconnectsWhenTheServerComesBack) {
  auto client = Client::create(io_.get_executor(), address_);
  ASSERT_TRUE(run(lookup(client, 1, "a")));
  asio::post(io_, [this] { server_->stop(); });
  auto down = run(lookup(client, 2, "a", {}, nullptr, 500ms));
  ASSERT_FALSE(down);

  std::promise<Result<HostPort>> relisten;
  asio::post(io_, [&] {
    server_ = std::make_unique<Server>(io_, io_.get_executor());
    server_->route<proto::LookupRequest, proto::AttrReply>(
        proto::LOOKUP,
        [](CallContext&, proto::LookupRequest& request) -> awaitable<Result<proto::AttrReply>> {
          proto::AttrReply reply;
          reply.mutable_attr()->set_ino(request.parent() + 1000);
          co_return reply;
        });
    relisten.set_value(server_->listen(address_));
  });
  ASSERT_TRUE(relisten.get_future().get());
  auto back = run(lookup(client, 3, "a"));
  ASSERT_TRUE(back) << back.error().toString();
  EXPECT_EQ(back->attr().ino(), 1003u);
}

}  // namespace
}  // namespace dfs::rpc
