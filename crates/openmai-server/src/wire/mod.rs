//! The MaiAgent wire conventions, built once and used by every handler: path aliases and
//! optional trailing slashes ([`path`]), request bodies in either casing ([`payload`]), DRF
//! field validation ([`form`]), page-number pagination ([`pagination`]) and absolute links
//! ([`links`]).

pub mod casing;
pub mod cursor;
pub mod form;
pub mod links;
pub mod pagination;
pub mod path;
pub mod payload;
