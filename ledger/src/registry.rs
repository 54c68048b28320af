//! registry: to be written.
