//! Where a static root's files are: a directory (written atomically, read without following
//! links) or an S3 prefix.

pub mod dir;
pub mod s3;
