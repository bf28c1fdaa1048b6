# Protocol codecs of the REST APIs: pure functions from bytes to the core vocabulary and back.
# Included from src/api/CMakeLists.txt. Paths are relative to this file so the include works from any directory.
set(SERVAL_CODECS_DIR ${CMAKE_CURRENT_LIST_DIR})

# Shared JSON pieces: depth-capped SAX reading, typed number conversion, FP16/BF16, base64, writers,
# the JSON → Tensor builder.
add_library(serval_json STATIC
  ${SERVAL_CODECS_DIR}/json/base64.cc
  ${SERVAL_CODECS_DIR}/json/float16.cc
  ${SERVAL_CODECS_DIR}/json/json_number.cc
  ${SERVAL_CODECS_DIR}/json/json_reader.cc
  ${SERVAL_CODECS_DIR}/json/json_tensor_builder.cc
  ${SERVAL_CODECS_DIR}/json/json_writer.cc)
target_include_directories(serval_json PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_include_directories(serval_json SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})
target_link_libraries(serval_json PUBLIC serval_core)

# TF Serving REST (JSON) codec; src/api/tfs/tf_dtype.h is header-only and shared with the gRPC codec.
add_library(serval_tfs_rest_codec STATIC ${SERVAL_CODECS_DIR}/tfs/tfs_rest_codec.cc)
target_include_directories(serval_tfs_rest_codec PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_tfs_rest_codec PUBLIC serval_json serval_core)

# KServe v2 / Open Inference Protocol REST codec, with Triton's binary tensor data extension.
add_library(serval_kserve_rest_codec STATIC ${SERVAL_CODECS_DIR}/kserve/kserve_rest_codec.cc)
target_include_directories(serval_kserve_rest_codec PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_kserve_rest_codec PUBLIC serval_json serval_core)

# Tests (they parse codec output back with RapidJSON to check it).
serval_test(serval_json_test
  SOURCES ${SERVAL_CODECS_DIR}/json/base64_test.cc
          ${SERVAL_CODECS_DIR}/json/float16_test.cc
          ${SERVAL_CODECS_DIR}/json/json_number_test.cc
          ${SERVAL_CODECS_DIR}/json/json_reader_test.cc
          ${SERVAL_CODECS_DIR}/json/json_tensor_builder_test.cc
          ${SERVAL_CODECS_DIR}/json/json_writer_test.cc
  LIBS serval_json)
target_include_directories(serval_json_test SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})
serval_test(tfs_rest_codec_test SOURCES ${SERVAL_CODECS_DIR}/tfs/tfs_rest_codec_test.cc LIBS serval_tfs_rest_codec)
target_include_directories(tfs_rest_codec_test SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})
serval_test(kserve_rest_codec_test SOURCES ${SERVAL_CODECS_DIR}/kserve/kserve_rest_codec_test.cc
  LIBS serval_kserve_rest_codec)
target_include_directories(kserve_rest_codec_test SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})
