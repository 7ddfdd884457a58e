nsbus_unit_test(test-sasl nsbus)
nsbus_unit_test(test-address nsbus)
