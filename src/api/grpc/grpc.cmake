# The gRPC server (ports, thread cap, message limits, channel arguments) and grpc.health.v1.
set(SERVAL_GRPC_DIR ${CMAKE_CURRENT_LIST_DIR})
add_library(serval_grpc_server STATIC ${SERVAL_GRPC_DIR}/grpc_server.cc ${SERVAL_GRPC_DIR}/health_service.cc
  ${SERVAL_GRPC_DIR}/budgeted_parse.cc)
target_include_directories(serval_grpc_server PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_grpc_server PUBLIC serval_core serval_grpc_stubs gRPC::grpc++ absl::synchronization)
serval_test(grpc_server_test SOURCES ${SERVAL_GRPC_DIR}/grpc_server_test.cc LIBS serval_grpc_server serval_request_metrics
  serval_serving)

# grpc_glue.h (header-only): gRPC's status, deadline, cancellation and metadata as the serving frontend takes
# them. Its test links the frontend for the deadline rule.
serval_test(grpc_glue_test SOURCES ${SERVAL_GRPC_DIR}/grpc_glue_test.cc LIBS serval_serving gRPC::grpc++)
serval_test(budgeted_parse_test SOURCES ${SERVAL_GRPC_DIR}/budgeted_parse_test.cc LIBS serval_grpc_server)
