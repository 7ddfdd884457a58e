# The daemon's bus logic, linked from nsbusd-core and driven over socketpairs (bus-harness.h).
# test-routing fails allocations on purpose: malloc, calloc and realloc are wrapped at link time.
nsbus_unit_test(test-routing nsbusd-core)
target_include_directories(test-routing PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
target_link_options(test-routing PRIVATE LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc)

# Service files a container bus reads inside the container's root (activation.c), and not the host's.
nsbus_unit_test(test-activation-in-root nsbusd-core)
target_include_directories(test-activation-in-root PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)

# The name registry, match rules and quotas, as clients see them through org.freedesktop.DBus.
nsbus_unit_test(test-names nsbusd-core)
target_include_directories(test-names PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
nsbus_unit_test(test-match nsbusd-core)
target_include_directories(test-match PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
nsbus_unit_test(test-quotas nsbusd-core)
target_include_directories(test-quotas PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
# Pending replies: found by a walk of the caller's list or through the callees' maps, in any order.
nsbus_unit_test(test-replies nsbusd-core)
target_include_directories(test-replies PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)

# Systemd activation: ActivationRequest, ActivationFailure, the fallback to starting a service itself.
nsbus_unit_test(test-activation nsbusd-core)
target_include_directories(test-activation PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)

# Checkpoint and restore of container connections (Checkpoint1: Export, Prepare, Resume), with hostile images.
nsbus_unit_test(test-checkpoint nsbusd-core)
target_include_directories(test-checkpoint PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
set_tests_properties(unit/test-checkpoint PROPERTIES SKIP_RETURN_CODE 77)
