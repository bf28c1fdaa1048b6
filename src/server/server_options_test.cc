#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <gflags/gflags.h>
#include <gtest/gtest.h>

#include "server/server_options.h"

namespace serval {
namespace {

// Parses `args` as a command line; gflags state is restored after each test by FlagSaver.
StatusOr<ServerOptions> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "serval");
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return ParseServerOptions(static_cast<int>(args.size()), argv.data());
}

TEST(ServerOptionsTest, HelpListsEveryServalFlagOnceAndNoOtherFlag) {
  EXPECT_TRUE(UngroupedFlags("server/server_options.cc", ServerFlagGroups()).empty())
      << "a flag defined in server_options.cc is missing from ServerFlagGroups(): "
      << UngroupedFlags("server/server_options.cc", ServerFlagGroups()).front();
  std::vector<std::string_view> seen;
  for (const FlagGroup& group : ServerFlagGroups()) {
    for (std::string_view name : group.flags) {
      EXPECT_EQ(std::count(seen.begin(), seen.end(), name), 0) << name << " is listed twice";
      seen.push_back(name);
    }
  }
  for (const char* args : {"--help", "-h", "--helpfull", "--helpshort"}) {
    gflags::FlagSaver saver;
    auto options = Parse({args});
    ASSERT_TRUE(options.ok()) << args << ": " << options.status().ToString();
    const std::string& help = options->exit_text;
    EXPECT_NE(help.find("\n  --model_config_file (string, default: \"\")\n"), std::string::npos) << help;
    EXPECT_NE(help.find("\n  --rest_api_port (int32, default: 8501)\n"), std::string::npos) << help;
    EXPECT_EQ(help.find("(unknown flag)"), std::string::npos) << help;
    EXPECT_EQ(help.find("--flagfile"), std::string::npos) << "gflags' own flags are not Serval's: " << help;
    EXPECT_EQ(help.find(".cc"), std::string::npos) << "no source paths: " << help;
    EXPECT_TRUE(options->models.empty());
  }
}

TEST(ServerOptionsTest, VersionNamesServalAndOnnxRuntime) {
  gflags::FlagSaver saver;
  auto options = Parse({"--version"});
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->exit_text.rfind("serval " SERVAL_VERSION "\nONNX Runtime 1.", 0), 0u) << options->exit_text;
  EXPECT_EQ(options->exit_text, VersionText());
}

TEST(ServerOptionsTest, SingleModelFlags) {
  gflags::FlagSaver saver;
  auto options = Parse({"--model_name=add", "--model_base_path=/models/add", "--rest_api_port=9000",
                        "--tensorflow_intra_op_parallelism=3"});
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  ASSERT_EQ(options->models.size(), 1u);
  EXPECT_EQ(options->models[0].name, "add");
  EXPECT_EQ(options->models[0].base_path, "/models/add");
  EXPECT_EQ(options->rest_api_port, 9000);
  EXPECT_EQ(options->engine.intra_op_threads, 3);
  EXPECT_GE(options->rest_api_num_threads, 1);
}

TEST(ServerOptionsTest, DockerEnvironmentConvention) {
  gflags::FlagSaver saver;
  ::setenv("MODEL_NAME", "resnet", 1);
  ::setenv("MODEL_BASE_PATH", "/models", 1);
  auto options = Parse({});
  ::unsetenv("MODEL_NAME");
  ::unsetenv("MODEL_BASE_PATH");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->models[0].name, "resnet");
  EXPECT_EQ(options->models[0].base_path, "/models/resnet");
}

TEST(ServerOptionsTest, SslConfigFile) {
  gflags::FlagSaver saver;
  // A missing file fails start-up with the flag's name.
  auto missing = Parse({"--model_base_path=/m", "--ssl_config_file=/nonexistent/ssl.config"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("ssl.config"), std::string::npos);

  auto tls = ParseSslConfig("server_key: 'KEY'\nserver_cert: 'CERT'\ncustom_ca: 'CA'\nclient_verify: true\n");
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  EXPECT_EQ(tls->server_key, "KEY");
  EXPECT_EQ(tls->server_cert, "CERT");
  EXPECT_EQ(tls->custom_ca, "CA");
  EXPECT_TRUE(tls->client_verify);
  EXPECT_TRUE(tls->enabled());
  EXPECT_FALSE(ParseSslConfig("server_cert: 'CERT'").ok());                                   // no key
  EXPECT_FALSE(ParseSslConfig("server_key: 'K' server_cert: 'C' client_verify: true").ok());  // no CA
  EXPECT_FALSE(ParseSslConfig("server_key: 'K' server_cert: 'C' bogus: 1").ok());
}

TEST(ServerOptionsTest, BatchingAndLifecycleFlags) {
  gflags::FlagSaver saver;
  auto options = Parse({"--model_base_path=/m", "--enable_batching", "--num_load_threads=2",
                        "--model_load_policy=resource", "--servable_versions_always_present"});
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_TRUE(options->enable_batching);
  EXPECT_EQ(options->batching.max_batch_size, 1000);  // TF Serving's default without a parameters file
  EXPECT_EQ(options->manager.num_load_threads, 2);
  EXPECT_TRUE(options->manager.resource_preserving);
  EXPECT_TRUE(options->manager.servable_versions_always_present);
  EXPECT_FALSE(Parse({"--model_base_path=/m", "--model_load_policy=greedy"}).ok());
  EXPECT_FALSE(Parse({"--model_base_path=/m", "--batching_parameters_file=/nope"}).ok());  // needs --enable_batching
  EXPECT_FALSE(Parse({"--model_base_path=/m", "--enable_model_control"}).ok());            // needs --model_root
}

TEST(ServerOptionsTest, ModelControlNeedsATokenOrTheLoudOptOut) {
  gflags::FlagSaver saver;
  auto refused = Parse({"--model_base_path=/m", "--enable_model_control", "--model_root=/m"});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--model_control_without_token_i_understand_the_risk"), std::string::npos);
  auto opted_out = Parse({"--model_base_path=/m", "--enable_model_control", "--model_root=/m",
                          "--model_control_without_token_i_understand_the_risk"});
  ASSERT_TRUE(opted_out.ok()) << opted_out.status().message();
  EXPECT_TRUE(opted_out->enable_model_control);
  EXPECT_TRUE(opted_out->admin_token.empty());
}

TEST(ServerOptionsTest, AcceptsAndIgnoresTfOnlyFlags) {
  gflags::FlagSaver saver;
  EXPECT_TRUE(Parse({"--model_base_path=/m", "--xla_cpu_compilation_enabled=true"}).ok());
}

TEST(ServerOptionsTest, RejectsBadValues) {
  gflags::FlagSaver saver;
  EXPECT_FALSE(Parse({"--model_base_path=relative/path"}).ok());
  EXPECT_FALSE(Parse({"--model_base_path=/m", "--graph_optimization_level=fast"}).ok());
  EXPECT_FALSE(Parse({}).ok());
  EXPECT_FALSE(Parse({"--model_name=../x", "--model_base_path=/m"}).ok());
}

}  // namespace
}  // namespace serval
