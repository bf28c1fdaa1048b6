# The serving frontend: the protocol-neutral steps between decode and encode that all four entry points share
# (resolution, signature, deadline, cancellation before run, classify/regress, metadata, status, statistics,
# readiness). No sockets, no wire format. Included from src/api/CMakeLists.txt after tfs_grpc.cmake (it
# runs TF Serving's tf.Example tasks); paths are relative to this file.
set(SERVAL_SERVING_DIR ${CMAKE_CURRENT_LIST_DIR})

add_library(serval_serving STATIC ${SERVAL_SERVING_DIR}/serving_frontend.cc ${SERVAL_SERVING_DIR}/triton_metrics.cc)
target_include_directories(serval_serving PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_serving PUBLIC serval_tfs_example_task serval_request_metrics serval_repository
  serval_metrics serval_core)

serval_test(serving_frontend_test SOURCES ${SERVAL_SERVING_DIR}/serving_frontend_test.cc LIBS serval_serving)
