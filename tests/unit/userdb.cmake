# The daemon's user database (files, then getent), from daemon/userdb.c alone.
add_executable(test-userdb ${CMAKE_SOURCE_DIR}/tests/unit/test-userdb.c ${CMAKE_SOURCE_DIR}/daemon/userdb.c
                           ${CMAKE_SOURCE_DIR}/lib/rootfs.c)
target_include_directories(test-userdb PRIVATE ${CMAKE_SOURCE_DIR}/lib ${CMAKE_SOURCE_DIR}/daemon
                                               ${CMAKE_SOURCE_DIR}/tests/unit)
add_test(NAME unit/test-userdb COMMAND test-userdb)
set_tests_properties(unit/test-userdb PROPERTIES LABELS unit TIMEOUT 120)
