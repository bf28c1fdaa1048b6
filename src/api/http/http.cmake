# HTTP/1.1 server (Boost.Beast/Asio) under the REST APIs. Included from src/api/CMakeLists.txt.
set(SERVAL_HTTP_DIR ${CMAKE_CURRENT_LIST_DIR})

add_library(serval_http STATIC ${SERVAL_HTTP_DIR}/http_server.cc ${SERVAL_HTTP_DIR}/http_wire.cc)
target_include_directories(serval_http PUBLIC ${PROJECT_SOURCE_DIR}/src)
find_package(OpenSSL REQUIRED)  # HTTPS (Boost.Asio's ssl streams over OpenSSL)
target_link_libraries(serval_http PUBLIC serval_core Boost::headers Threads::Threads ZLIB::ZLIB OpenSSL::SSL OpenSSL::Crypto)

serval_test(http_server_test SOURCES ${SERVAL_HTTP_DIR}/http_server_test.cc LIBS serval_http)

# The HTTP floor: an empty-200 server and a one-connection loop client (not a test; built on request).
add_executable(serval_http_floor EXCLUDE_FROM_ALL ${SERVAL_HTTP_DIR}/http_floor.cc)
target_link_libraries(serval_http_floor PRIVATE serval_http)
