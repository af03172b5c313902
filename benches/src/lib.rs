//! Side-by-side benchmark helpers (being written).
