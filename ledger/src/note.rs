//! note: to be written.
