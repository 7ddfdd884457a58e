# Policy and configuration: policy/bus-policy.c and daemon/config.c.
nsbus_unit_test(test-bus-policy nsbus-policy nsbus)

# daemon/config.c is compiled straight into its test, so that the test does
# not depend on how the daemon's own target is put together.
add_executable(test-config ${CMAKE_CURRENT_SOURCE_DIR}/test-config.c ${CMAKE_SOURCE_DIR}/daemon/config.c
               ${CMAKE_SOURCE_DIR}/daemon/userdb.c)
target_include_directories(test-config PRIVATE ${CMAKE_SOURCE_DIR}/daemon)
target_compile_definitions(test-config PRIVATE NSBUS_TEST_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/data")
target_link_libraries(test-config PRIVATE nsbus-policy nsbus PkgConfig::EXPAT)
add_test(NAME unit/test-config COMMAND test-config)
set_tests_properties(unit/test-config PROPERTIES LABELS unit TIMEOUT 120)
