//! tiermq-pipe (skeleton; being written).
