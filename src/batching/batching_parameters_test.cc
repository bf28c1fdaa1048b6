#include "batching/batching_parameters.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace serval {
namespace {

TEST(BatchingParametersTest, EmptyFileGivesTfServingDefaults) {
  StatusOr<BatchingOptions> options = ParseBatchingParameters("");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->max_batch_size, 1000);
  EXPECT_EQ(options->batch_timeout_micros, 0);
  EXPECT_EQ(options->max_enqueued_batches, 10);
  EXPECT_EQ(options->num_batch_threads, 0);  // resolved to the usable cores by the scheduler
  EXPECT_TRUE(options->allowed_batch_sizes.empty());
  EXPECT_FALSE(options->pad_variable_length_inputs);
  EXPECT_FALSE(options->enable_large_batch_splitting);
  EXPECT_EQ(options->ExecutionBatchLimit(), 1000);
}

TEST(BatchingParametersTest, ParsesTfServingFile) {
  StatusOr<BatchingOptions> options = ParseBatchingParameters(R"pb(
    max_batch_size { value: 128 }
    batch_timeout_micros { value: 2000 }
    max_enqueued_batches { value: 4 }
    num_batch_threads { value: 3 }
    thread_pool_name { value: "pool" }
    allowed_batch_sizes: 8
    allowed_batch_sizes: 32
    allowed_batch_sizes: 128
    pad_variable_length_inputs: true
  )pb");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->max_batch_size, 128);
  EXPECT_EQ(options->batch_timeout_micros, 2000);
  EXPECT_EQ(options->max_enqueued_batches, 4);
  EXPECT_EQ(options->num_batch_threads, 3);
  EXPECT_EQ(options->thread_pool_name, "pool");
  EXPECT_EQ(options->allowed_batch_sizes, (std::vector<int64_t>{8, 32, 128}));
  EXPECT_TRUE(options->pad_variable_length_inputs);
  EXPECT_EQ(options->PaddedBatchSize(1), 8);
  EXPECT_EQ(options->PaddedBatchSize(8), 8);
  EXPECT_EQ(options->PaddedBatchSize(9), 32);
  EXPECT_EQ(options->PaddedBatchSize(128), 128);
}

TEST(BatchingParametersTest, LargeBatchSplittingUsesExecutionLimit) {
  StatusOr<BatchingOptions> options = ParseBatchingParameters(R"pb(
    max_batch_size { value: 64 }
    enable_large_batch_splitting { value: true }
    max_execution_batch_size { value: 16 }
    allowed_batch_sizes: [ 4, 16 ]
  )pb");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->ExecutionBatchLimit(), 16);
  EXPECT_EQ(options->PaddedBatchSize(5), 16);
}

TEST(BatchingParametersTest, NoListMeansNoPadding) {
  BatchingOptions options;
  EXPECT_EQ(options.PaddedBatchSize(7), 7);
}

// Each invalid file must fail with INVALID_ARGUMENT naming the offending field.
struct InvalidCase {
  const char* text;
  const char* field;
};

TEST(BatchingParametersTest, ValidationErrorsNameTheField) {
  const InvalidCase cases[] = {
      {"max_batch_size { value: 0 }", "max_batch_size"},
      {"max_batch_size { value: -5 }", "max_batch_size"},
      {"batch_timeout_micros { value: -1 }", "batch_timeout_micros"},
      {"batch_timeout_micros { value: 9223372036854775807 }", "batch_timeout_micros"},
      {"max_batch_size { value: 9223372036854775807 }", "max_batch_size"},
      {"max_enqueued_batches { value: 0 }", "max_enqueued_batches"},
      {"num_batch_threads { value: 0 }", "num_batch_threads"},
      {"num_batch_threads { value: 1000000 }", "num_batch_threads"},
      {"max_batch_size { value: 8 } allowed_batch_sizes: [2, 2, 8]", "allowed_batch_sizes"},
      {"max_batch_size { value: 8 } allowed_batch_sizes: [4, 2, 8]", "allowed_batch_sizes"},
      {"max_batch_size { value: 8 } allowed_batch_sizes: [0, 8]", "allowed_batch_sizes"},
      {"max_batch_size { value: 8 } allowed_batch_sizes: [2, 4]", "allowed_batch_sizes"},
      {"max_batch_size { value: 8 } enable_large_batch_splitting { value: true } "
       "max_execution_batch_size { value: 16 }",
       "max_execution_batch_size"},
      {"max_batch_size { value: 8 } enable_large_batch_splitting { value: true } "
       "max_execution_batch_size { value: 0 }",
       "max_execution_batch_size"},
      // With splitting, the list ends at the execution limit, not at max_batch_size.
      {"max_batch_size { value: 8 } enable_large_batch_splitting { value: true } "
       "max_execution_batch_size { value: 4 } allowed_batch_sizes: [2, 8]",
       "allowed_batch_sizes"},
  };
  for (const InvalidCase& c : cases) {
    StatusOr<BatchingOptions> options = ParseBatchingParameters(c.text);
    ASSERT_FALSE(options.ok()) << c.text;
    EXPECT_EQ(options.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(options.status().message().find(c.field), std::string::npos)
        << c.text << " -> " << options.status().message();
  }
}

TEST(BatchingParametersTest, SyntaxErrorsAndUnknownFieldsAreInvalidArgument) {
  for (const char* text : {"max_batch_size { value: ", "max_batch_size: 5", "no_such_field { value: 1 }",
                           "max_batch_size { value: 99999999999999999999999 }"}) {
    StatusOr<BatchingOptions> options = ParseBatchingParameters(text, "params.pbtxt");
    ASSERT_FALSE(options.ok()) << text;
    EXPECT_EQ(options.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(options.status().message().find("params.pbtxt"), std::string::npos) << options.status().message();
  }
}

TEST(BatchingParametersTest, ReadsFileAndReportsMissingOne) {
  const std::string path = testing::TempDir() + "/batching_params.pbtxt";
  {
    std::ofstream file(path);
    file << "max_batch_size { value: 4 }\nallowed_batch_sizes: 2\nallowed_batch_sizes: 4\n";
  }
  StatusOr<BatchingOptions> options = ReadBatchingParametersFile(path);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->max_batch_size, 4);
  EXPECT_EQ(options->allowed_batch_sizes, (std::vector<int64_t>{2, 4}));
  std::remove(path.c_str());

  StatusOr<BatchingOptions> missing = ReadBatchingParametersFile(path + ".missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace serval
