# TF Serving REST (JSON) codec: pure functions from bytes to the core vocabulary and back. tf_dtype.h is
# header-only and shared with the gRPC codec (tfs_grpc.cmake). Included from src/api/CMakeLists.txt after
# json/json.cmake; paths are relative to this file.
set(SERVAL_TFS_REST_DIR ${CMAKE_CURRENT_LIST_DIR})

add_library(serval_tfs_rest_codec STATIC ${SERVAL_TFS_REST_DIR}/tfs_rest_codec.cc)
target_include_directories(serval_tfs_rest_codec PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_tfs_rest_codec PUBLIC serval_json serval_core)

serval_test(tfs_rest_codec_test SOURCES ${SERVAL_TFS_REST_DIR}/tfs_rest_codec_test.cc LIBS serval_tfs_rest_codec)
target_include_directories(tfs_rest_codec_test SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})
