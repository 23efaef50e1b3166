//! The bearer JSON API under `/api/v1`.

pub mod model;
