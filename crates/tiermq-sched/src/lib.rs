//! tiermq-sched (skeleton; being written).
