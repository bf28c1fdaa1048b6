#include "api/json/base64.h"

#include <random>

#include <gtest/gtest.h>

namespace serval {
namespace {

TEST(Base64Test, EncodesRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, RoundTripsEveryLengthAndByte) {
  std::mt19937 rng(7);
  for (size_t length = 0; length < 70; ++length) {
    std::string bytes(length, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    std::string decoded;
    ASSERT_TRUE(Base64Decode(Base64Encode(bytes), &decoded)) << length;
    EXPECT_EQ(decoded, bytes);
  }
}

TEST(Base64Test, AcceptsUnpaddedInput) {
  std::string decoded;
  ASSERT_TRUE(Base64Decode("Zg", &decoded));
  EXPECT_EQ(decoded, "f");
  ASSERT_TRUE(Base64Decode("Zm8", &decoded));
  EXPECT_EQ(decoded, "fo");
}

TEST(Base64Test, RejectsAnythingNotCanonical) {
  std::string decoded;
  for (const char* bad : {"Z", "Zg=", "Z===", "Zg==Zg==", "Zm9v\n", "Zm9 v", "Zm-v", "Zm_v",
                          "Zh==", "Zm9=", "====", "Zg=a", "Zm9vYg=", "!!!!"}) {
    EXPECT_FALSE(Base64Decode(bad, &decoded)) << bad;
  }
}

}  // namespace
}  // namespace serval
