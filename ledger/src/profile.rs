//! profile: to be written.
