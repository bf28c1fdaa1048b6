# What both REST services share: the table-driven router (header-only) and the one edge where a handler's
# Status becomes an HTTP status and error body. Included from src/api/CMakeLists.txt; paths are relative to
# this file.
set(SERVAL_REST_DIR ${CMAKE_CURRENT_LIST_DIR})

add_library(serval_rest STATIC ${SERVAL_REST_DIR}/rest_status.cc)
target_include_directories(serval_rest PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(serval_rest PUBLIC serval_serving serval_tfs_rest_codec serval_kserve_rest_codec serval_core)

serval_test(rest_router_test SOURCES ${SERVAL_REST_DIR}/rest_router_test.cc LIBS serval_rest)
