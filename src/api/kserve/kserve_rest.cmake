# KServe v2 / Open Inference Protocol REST codec, with Triton's binary tensor data extension: pure functions
# from bytes to the core vocabulary and back. Included from src/api/CMakeLists.txt after json/json.cmake;
# paths are relative to this file.
set(SERVAL_KSERVE_REST_DIR ${CMAKE_CURRENT_LIST_DIR})

# What the REST and gRPC codecs share (platform names, the batch rule, binary BYTES): neither codec depends on
# the other.
add_library(serval_kserve_wire STATIC ${SERVAL_KSERVE_REST_DIR}/kserve_wire.cc)
target_include_directories(serval_kserve_wire PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_kserve_wire PUBLIC serval_core)

add_library(serval_kserve_rest_codec STATIC ${SERVAL_KSERVE_REST_DIR}/kserve_rest_codec.cc)
target_include_directories(serval_kserve_rest_codec PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_kserve_rest_codec PUBLIC serval_kserve_wire serval_json serval_core)

serval_test(kserve_rest_codec_test SOURCES ${SERVAL_KSERVE_REST_DIR}/kserve_rest_codec_test.cc
  LIBS serval_kserve_rest_codec)
target_include_directories(kserve_rest_codec_test SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})
