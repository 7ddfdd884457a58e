# The bridge policy language: policy/bridge-policy.c. The test also loads the example policy that ships in
# examples/containers/, so that the example cannot rot.
nsbus_unit_test(test-bridge-policy nsbus-policy nsbus)
target_compile_definitions(test-bridge-policy PRIVATE NSBUS_EXAMPLES_DIR="${CMAKE_SOURCE_DIR}/examples/containers")
