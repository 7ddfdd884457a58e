nsbus_unit_test(test-hashmap nsbus)
nsbus_unit_test(test-event nsbus)
nsbus_unit_test(test-client nsbus)
nsbus_unit_test(test-rootfs nsbus)
