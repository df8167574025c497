//! The APIO dialect: seed 000's session API (login, logout, the current user's login info) in
//! `session`, and seed 001's user resource with its PIN code in [`users`].

mod session;
pub mod users;

pub use session::*;
