#include "api/rest/rest_router.h"

#include <stdexcept>
#include <string>

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

TEST(RestRouterTest, PathsBeyondTheSegmentBoundMatchNothing) {
  Router router;
  // A pattern of exactly kMaxRouteSegments segments ("" before the first '/', then 15 more) still matches.
  std::string longest;
  for (size_t i = 1; i < kMaxRouteSegments; ++i) longest += "/s";
  router.Add("GET", longest, 7);
  Router::Match hit = router.Find("GET", longest);
  ASSERT_NE(hit.handler, nullptr);
  EXPECT_EQ(*hit.handler, 7);
  // One segment more, or thousands, is no route (and no known path), however the prefix looks.
  for (const std::string& path : {longest + "/s", longest + std::string(10000, '/')}) {
    Router::Match none = router.Find("GET", path);
    EXPECT_EQ(none.handler, nullptr);
    EXPECT_FALSE(none.path_matched);
  }
}

TEST(RestRouterTest, PatternsBeyondTheBoundsAreRefusedWhenAdded) {
  Router router;
  EXPECT_THROW(router.Add("GET", "/{a}/{b}/{c}/{d}/{e}", 1), std::logic_error);
  std::string too_long;
  for (size_t i = 0; i < kMaxRouteSegments; ++i) too_long += "/s";
  EXPECT_THROW(router.Add("GET", too_long, 1), std::logic_error);
  Router::Match four = router.Add("GET", "/{a}/{b}/{c}/{d}", 2).Find("GET", "/1/2/3/4");
  ASSERT_NE(four.handler, nullptr);
  EXPECT_EQ(four.params.Get("a"), "1");
  EXPECT_EQ(four.params.Get("d"), "4");
  EXPECT_FALSE(four.params.Has("e"));
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
