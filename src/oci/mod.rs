//! OCI images on local disk: the image layout directory and the conversion of engine
//! exports (`docker save`) into OCI images. Media types and descriptors are shared with
//! the registry client ([`crate::registry::manifest`]).

pub mod docker_archive;
pub mod layout;
