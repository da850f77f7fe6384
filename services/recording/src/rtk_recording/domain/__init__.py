"""Transport-agnostic recording logic: the status machine, starts and stops, capacity, sweeping."""
