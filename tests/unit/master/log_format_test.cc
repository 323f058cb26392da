#include "server/master/log_format.h"

#include <random>

#include <gtest/gtest.h>

namespace dfs::master {
namespace {

std::string payload(size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string data(size, '\0');
  for (auto& byte : data) byte = static_cast<char>('a' + random() % 26);
  return data;
}

// Records of many sizes, some spanning blocks, some ending exactly at block boundaries.
std::vector<std::string> sampleRecords() {
  std::vector<std::string> records;
  for (size_t size : {1, 100, 0, 32760, 32761, 5000, 100000, 7, 32 * 1024 - 14, 3}) {
    records.push_back(payload(size, static_cast<unsigned>(size)));
  }
  return records;
}

std::string encode(const std::vector<std::string>& records) {
  std::string file;
  LogWriter writer;
  for (const auto& record : records) writer.add(record, &file);
  return file;
}

TEST(LogFormatTest, RecordsReadBackInOrder) {
  auto records = sampleRecords();
  std::string file = encode(records);
  LogReader reader(file);
  std::string record;
  for (const auto& expected : records) {
    ASSERT_EQ(reader.next(&record), LogReader::Outcome::kRecord);
    EXPECT_EQ(record, expected);
  }
  EXPECT_EQ(reader.next(&record), LogReader::Outcome::kEnd);
  EXPECT_EQ(reader.validEnd(), file.size());
}

TEST(LogFormatTest, AppendingToAnExistingFileKeepsTheFraming) {
  auto records = sampleRecords();
  std::string file;
  for (const auto& record : records) {
    LogWriter writer(file.size());  // a new writer per record, as after a restart
    writer.add(record, &file);
  }
  LogReader reader(file);
  std::string record;
  for (const auto& expected : records) {
    ASSERT_EQ(reader.next(&record), LogReader::Outcome::kRecord);
    EXPECT_EQ(record, expected);
  }
  EXPECT_EQ(reader.next(&record), LogReader::Outcome::kEnd);
}

TEST(LogFormatTest, TruncatingTheLastRecordAtEveryOffsetIsATornTail) {
  std::vector<std::string> records = {payload(3000, 1), payload(70000, 2)};
  std::string whole = encode(records);
  std::string first_only = encode({records[0]});
  for (size_t cut = first_only.size() + 1; cut < whole.size(); ++cut) {
    std::string file = whole.substr(0, cut);
    LogReader reader(file);
    std::string record;
    ASSERT_EQ(reader.next(&record), LogReader::Outcome::kRecord) << "cut at " << cut;
    EXPECT_EQ(record, records[0]);
    auto outcome = reader.next(&record);
    ASSERT_EQ(outcome, LogReader::Outcome::kTornTail) << "cut at " << cut;
    EXPECT_EQ(reader.validEnd(), first_only.size()) << "cut at " << cut;
  }
}

TEST(LogFormatTest, AFlippedByteBeforeTheTailIsCorruption) {
  std::vector<std::string> records;
  for (int i = 0; i < 40; ++i) records.push_back(payload(2000, i));  // about 2.5 blocks
  std::string file = encode(records);
  file[5000] ^= 0x01;
  LogReader reader(file);
  std::string record;
  LogReader::Outcome outcome;
  int good = 0;
  while ((outcome = reader.next(&record)) == LogReader::Outcome::kRecord) good++;
  EXPECT_EQ(outcome, LogReader::Outcome::kCorrupt);
  EXPECT_EQ(good, 2);
  EXPECT_LE(reader.errorOffset(), 5000u);
  EXPECT_EQ(reader.errorReason(), "checksum mismatch");
}

TEST(LogFormatTest, AFlippedByteInTheLastBlockIsATornTail) {
  std::vector<std::string> records;
  for (int i = 0; i < 5; ++i) records.push_back(payload(1000, i));
  std::string file = encode(records);
  file[file.size() - 10] ^= 0x01;
  LogReader reader(file);
  std::string record;
  int good = 0;
  LogReader::Outcome outcome;
  while ((outcome = reader.next(&record)) == LogReader::Outcome::kRecord) good++;
  EXPECT_EQ(outcome, LogReader::Outcome::kTornTail);
  EXPECT_EQ(good, 4);
}

}  // namespace
}  // namespace dfs::master
