#include "api/rest/rest_router.h"

#include <gtest/gtest.h>

#include "api/rest/rest_status.h"

namespace serval {
namespace {

using Router = RestRouter<int>;

Router MakeRouter() {
  Router router;
  router.Add("GET", "/v1/models/{model}", 1)
      .Add("GET", "/v1/models/{model}/versions/{version}/metadata", 2)
      .Add("POST", "/v1/models/{model}:predict", 3)
      .Add("POST", "/v1/models/{model}/labels/{label}:classify", 4);
  return router;
}

TEST(RestRouterTest, MatchesLiteralsCapturesAndVerbs) {
  const Router router = MakeRouter();
  Router::Match status = router.Find("GET", "/v1/models/m");
  ASSERT_NE(status.handler, nullptr);
  EXPECT_EQ(*status.handler, 1);
  EXPECT_EQ(status.params.Get("model"), "m");
  EXPECT_FALSE(status.params.Has("version"));

  Router::Match metadata = router.Find("GET", "/v1/models/m/versions/7/metadata");
  ASSERT_NE(metadata.handler, nullptr);
  EXPECT_EQ(*metadata.handler, 2);
  EXPECT_EQ(metadata.params.Get("version"), "7");

  Router::Match predict = router.Find("POST", "/v1/models/m:predict");
  ASSERT_NE(predict.handler, nullptr);
  EXPECT_EQ(*predict.handler, 3);
  EXPECT_EQ(predict.params.Get("model"), "m");

  Router::Match classify = router.Find("POST", "/v1/models/m/labels/a:b:classify");  // split at the last ':'
  ASSERT_NE(classify.handler, nullptr);
  EXPECT_EQ(classify.params.Get("label"), "a:b");
}

TEST(RestRouterTest, WrongMethodIsKnownPathUnknownIsNot) {
  const Router router = MakeRouter();
  Router::Match wrong = router.Find("POST", "/v1/models/m");
  EXPECT_EQ(wrong.handler, nullptr);
  EXPECT_TRUE(wrong.path_matched);
  for (const char* path : {"/v1/models/m:explain", "/v1/models/m/", "/v1/models//versions/1/metadata",
                           "/v1/models/m/versions/1", "/v1/models", "/v1/models/:predict"}) {
    Router::Match none = router.Find("POST", path);
    EXPECT_EQ(none.handler, nullptr) << path;
    EXPECT_FALSE(none.path_matched) << path;
  }
}

TEST(RestStatusTest, OneEdgeMapsEachProtocol) {
  EXPECT_EQ(HttpStatusOf(RestProtocol::kTfServing, NotFound("x")), 404);
  EXPECT_EQ(HttpStatusOf(RestProtocol::kTfServing, Cancelled("x")), 499);
  EXPECT_EQ(HttpStatusOf(RestProtocol::kKServe, Unavailable("x")), 503);
  EXPECT_EQ(HttpStatusOf(RestProtocol::kKServe, RestStatus(415, InvalidArgument("x"))), 415);
  HttpResponse response;
  WriteRestError(RestProtocol::kKServe, Unauthenticated("token"), response);
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.body, "{\"error\":\"token\"}");
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0].first, "WWW-Authenticate");
  HttpResponse tfs;
  WriteRestError(RestProtocol::kTfServing, InvalidArgument("bad"), tfs);
  EXPECT_EQ(tfs.status, 400);
  EXPECT_EQ(tfs.body, "{\"error\":\"bad\"}");
}

TEST(RestStatusTest, FarFutureTimeoutIsNoDeadline) {
  HttpRequest request;
  EXPECT_EQ(RestCallContext(request, std::chrono::milliseconds(0)).deadline, kNoDeadline);
  EXPECT_EQ(RestCallContext(request, std::chrono::hours(24 * 365 * 2)).deadline, kNoDeadline);
  EXPECT_NE(RestCallContext(request, std::chrono::milliseconds(100)).deadline, kNoDeadline);
}

}  // namespace
}  // namespace serval
