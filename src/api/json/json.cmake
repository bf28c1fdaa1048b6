# Shared JSON pieces of the REST codecs: depth-capped SAX reading (simdjson On-Demand, RapidJSON as the exact
# fallback), typed number conversion (fast_float),
# FP16/BF16, base64, writers, the JSON → Tensor builder. Included from src/api/CMakeLists.txt; paths are
# relative to this file.
set(SERVAL_JSON_DIR ${CMAKE_CURRENT_LIST_DIR})

add_library(serval_json STATIC
  ${SERVAL_JSON_DIR}/base64.cc
  ${SERVAL_JSON_DIR}/float16.cc
  ${SERVAL_JSON_DIR}/json_number.cc
  ${SERVAL_JSON_DIR}/json_reader.cc
  ${SERVAL_JSON_DIR}/json_simd_reader.cc
  ${SERVAL_JSON_DIR}/json_tensor_builder.cc
  ${SERVAL_JSON_DIR}/json_writer.cc)
target_include_directories(serval_json PUBLIC ${PROJECT_SOURCE_DIR}/src)
# The simdjson hot loop (On-Demand is header code, inlined into the tensor builder's scan) gains from -O3.
set_source_files_properties(${SERVAL_JSON_DIR}/json_tensor_builder.cc PROPERTIES COMPILE_OPTIONS -O3)
target_include_directories(serval_json SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})
target_link_libraries(serval_json PUBLIC serval_core FastFloat::fast_float Boost::headers PRIVATE simdjson::simdjson)

# The tests parse codec output back with RapidJSON to check it.
serval_test(serval_json_test
  SOURCES ${SERVAL_JSON_DIR}/base64_test.cc
          ${SERVAL_JSON_DIR}/float16_test.cc
          ${SERVAL_JSON_DIR}/json_number_test.cc
          ${SERVAL_JSON_DIR}/json_reader_test.cc
          ${SERVAL_JSON_DIR}/json_simd_reader_test.cc
          ${SERVAL_JSON_DIR}/json_tensor_builder_test.cc
          ${SERVAL_JSON_DIR}/json_writer_test.cc
  LIBS serval_json)
target_include_directories(serval_json_test SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})
