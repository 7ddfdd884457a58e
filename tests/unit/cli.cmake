# nsbusctl's state of a container bus (cli/state.c): its file, and what a killed bus leaves.
nsbus_unit_test(test-cli-state nsbusctl-verbs)
target_include_directories(test-cli-state PRIVATE ${CMAKE_SOURCE_DIR}/cli ${CMAKE_SOURCE_DIR}/tests/unit)
