// A ChunkStore in a fresh temp dir, removed afterwards, and on-disk damage to its replicas.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "server/chunkserver/chunk_store.h"

namespace dfs::chunkserver {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/chunk_store_test.XXXXXX";
    dir_ = ::mkdtemp(pattern);
    store_ = std::move(ChunkStore::open(dir_).value());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Inverts the byte at data_offset of the replica's data, behind the store's back.
  void flipByteOnDisk(uint64_t chunk_id, uint64_t data_offset) {
    int fd = ::open(store_->pathOf(chunk_id).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    char byte;
    ASSERT_EQ(::pread(fd, &byte, 1, kDataOffset + data_offset), 1);
    byte = static_cast<char>(~byte);
    ASSERT_EQ(::pwrite(fd, &byte, 1, kDataOffset + data_offset), 1);
    ::close(fd);
  }

  std::string dir_;
  std::unique_ptr<ChunkStore> store_;
};

}  // namespace dfs::chunkserver
