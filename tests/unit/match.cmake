# Match rules: the grammar, equality for RemoveMatch and matching, built from
# daemon/match-rule.c alone so the test does not wait for the rest of the daemon.
add_executable(test-match-rule ${CMAKE_SOURCE_DIR}/tests/unit/test-match-rule.c
                               ${CMAKE_SOURCE_DIR}/daemon/match-rule.c)
target_include_directories(test-match-rule PRIVATE ${CMAKE_SOURCE_DIR}/lib ${CMAKE_SOURCE_DIR}/daemon
                                                   ${CMAKE_SOURCE_DIR}/tests/unit)
target_link_libraries(test-match-rule PRIVATE nsbus)
add_test(NAME unit/test-match-rule COMMAND test-match-rule)
set_tests_properties(unit/test-match-rule PROPERTIES LABELS unit TIMEOUT 120)
