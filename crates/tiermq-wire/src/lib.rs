//! tiermq-wire (skeleton; being written).
