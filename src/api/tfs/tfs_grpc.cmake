# TF Serving gRPC API (PredictionService, ModelService) and the tf.Example mapping shared with the REST
# :classify / :regress routes. Included from src/api/CMakeLists.txt; paths are relative to this file.
set(SERVAL_TFS_DIR ${CMAKE_CURRENT_LIST_DIR})

# tf.Example → model inputs, model outputs → classifications / regressions, and the REST JSON for them.
# No gRPC: the REST API links it too.
add_library(serval_tfs_examples STATIC ${SERVAL_TFS_DIR}/tfs_examples.cc ${SERVAL_TFS_DIR}/tfs_examples_json.cc)
target_include_directories(serval_tfs_examples PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_tfs_examples PUBLIC serval_json serval_core)

# The proto codec: pure functions between TF Serving's messages and the core vocabulary.
add_library(serval_tfs_grpc_codec STATIC ${SERVAL_TFS_DIR}/tfs_grpc_codec.cc ${SERVAL_TFS_DIR}/tfs_tensor_proto.cc)
target_include_directories(serval_tfs_grpc_codec PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_tfs_grpc_codec PUBLIC serval_proto serval_tfs_examples serval_core)

# One Classify / Regress task planned against a served version (the serving frontend runs it).
add_library(serval_tfs_example_task STATIC ${SERVAL_TFS_DIR}/tfs_example_task.cc)
target_include_directories(serval_tfs_example_task PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_tfs_example_task PUBLIC serval_tfs_grpc_codec serval_tfs_examples serval_repository
  serval_core)

# The callback-API services: decode → serving frontend → encode.
add_library(serval_tfs_grpc STATIC ${SERVAL_TFS_DIR}/tfs_grpc_service.cc)
target_include_directories(serval_tfs_grpc PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_tfs_grpc PUBLIC serval_grpc_server serval_tfs_grpc_codec serval_serving serval_grpc_stubs
  serval_repository serval_core gRPC::grpc++)

serval_test(tfs_grpc_codec_test
  SOURCES ${SERVAL_TFS_DIR}/tfs_grpc_codec_test.cc ${SERVAL_TFS_DIR}/tfs_examples_test.cc
  LIBS serval_tfs_grpc_codec serval_tfs_example_task)
target_include_directories(tfs_grpc_codec_test SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})

# Model warm-up: replays a version's TF Serving warm-up file (TFRecord of PredictionLog) or a synthetic
# request before the version becomes AVAILABLE. The server passes MakeWarmupFunction to the ModelManager.
add_library(serval_tfs_warmup STATIC ${SERVAL_TFS_DIR}/tfs_warmup.cc)
target_include_directories(serval_tfs_warmup PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_tfs_warmup PUBLIC serval_tfs_grpc_codec serval_tfs_example_task serval_engine serval_core)

serval_test(tfs_warmup_test SOURCES ${SERVAL_TFS_DIR}/tfs_warmup_test.cc LIBS serval_tfs_warmup)
