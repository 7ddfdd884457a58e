nsbus_unit_test(test-hashmap nsbus)
