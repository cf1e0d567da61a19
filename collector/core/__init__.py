"""The pure core: the model, events, the live state machine, JSON shapes and the records the
store writes. No I/O, no clock: every function that depends on time takes `now`."""
