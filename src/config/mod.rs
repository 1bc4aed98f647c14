//! Project configuration: `wharf.yaml` / `werf.yaml` → validated [`Project`].
