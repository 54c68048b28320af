//! envelope: to be written.
