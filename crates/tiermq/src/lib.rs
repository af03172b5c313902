//! tiermq (skeleton; being written).
