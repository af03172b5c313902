//! tiermq-transport (skeleton; being written).
