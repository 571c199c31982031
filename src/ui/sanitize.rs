//! Making text from endpoints safe to put on screen: the one rule lives in
//! [`crate::text::clean`], shared with every other terminal output.

pub use crate::text::clean;
