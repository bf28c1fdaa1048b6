# tf.Example parsing by the server for ONNX graphs cut after ParseExample (signatures.json): the feature spec
# applied to serialized tf.Examples. The server gives MakeExampleParser to the ModelManager.
add_library(serval_tfs_feature_spec STATIC ${CMAKE_CURRENT_LIST_DIR}/tfs_feature_spec.cc)
target_include_directories(serval_tfs_feature_spec PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_tfs_feature_spec PUBLIC serval_tfs_grpc_codec serval_tfs_examples serval_proto serval_core)

serval_test(tfs_feature_spec_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/tfs_feature_spec_test.cc
  LIBS serval_tfs_feature_spec)
