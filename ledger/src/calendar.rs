//! calendar: to be written.
