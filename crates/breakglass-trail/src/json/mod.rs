//! Raw JSON: a validating scanner that finds value boundaries and a lazy walker over values
//! it has validated. Together they let the engine touch only the bytes a rule needs.

pub mod compact;
pub mod scan;
pub mod walk;
