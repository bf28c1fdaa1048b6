# KServe v2 / Open Inference Protocol gRPC API: the codec (ModelInferRequest/Response <-> the core vocabulary)
# and inference.GRPCInferenceService over the serving frontend. Included from src/api/CMakeLists.txt after
# kserve_rest.cmake (it shares kserve_wire.h with the REST codec). Paths are relative to this file.
set(SERVAL_KSERVE_GRPC_DIR ${CMAKE_CURRENT_LIST_DIR})

add_library(serval_kserve_grpc_codec STATIC ${SERVAL_KSERVE_GRPC_DIR}/kserve_grpc_codec.cc)
target_include_directories(serval_kserve_grpc_codec PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_kserve_grpc_codec PUBLIC serval_proto serval_kserve_wire serval_core)

add_library(serval_kserve_grpc STATIC ${SERVAL_KSERVE_GRPC_DIR}/kserve_grpc_service.cc)
target_include_directories(serval_kserve_grpc PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_kserve_grpc PUBLIC serval_grpc_server serval_kserve_grpc_codec serval_serving serval_grpc_stubs
  serval_repository gRPC::grpc++)

serval_test(kserve_grpc_codec_test SOURCES ${SERVAL_KSERVE_GRPC_DIR}/kserve_grpc_codec_test.cc
  LIBS serval_kserve_grpc_codec)

# The effective configuration of a Triton-repository model, as JSON (REST /config) and as the gRPC message.
add_library(serval_kserve_model_config STATIC ${SERVAL_KSERVE_GRPC_DIR}/kserve_model_config.cc)
target_include_directories(serval_kserve_model_config PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_kserve_model_config PUBLIC serval_proto serval_json serval_repository)
target_link_libraries(serval_kserve_grpc PUBLIC serval_kserve_model_config)
serval_test(kserve_model_config_test SOURCES ${SERVAL_KSERVE_GRPC_DIR}/kserve_model_config_test.cc
  LIBS serval_kserve_model_config)
target_include_directories(kserve_model_config_test SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})

# Triton's classification extension (top-N "score:index[:label]" strings), protocol-neutral.
add_library(serval_kserve_classification STATIC ${SERVAL_KSERVE_GRPC_DIR}/kserve_classification.cc)
target_include_directories(serval_kserve_classification PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_kserve_classification PUBLIC serval_json serval_kserve_wire serval_core)
target_link_libraries(serval_kserve_model_config PUBLIC serval_kserve_classification)
serval_test(kserve_classification_test SOURCES ${SERVAL_KSERVE_GRPC_DIR}/kserve_classification_test.cc
  LIBS serval_kserve_classification)
