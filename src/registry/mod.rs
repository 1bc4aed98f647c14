//! OCI distribution client: references, auth, blobs, manifests, tags.
