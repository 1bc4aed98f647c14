# wharf's own image: the wharf binary on a small base with glibc, CA certificates and a
# busybox shell (CI jobs run scripts in it). wharf builds and publishes it (wharf.yaml):
#
#   cargo build --release --locked && install -D target/release/wharf dist/wharf
#   wharf build-and-publish --repo ghcr.io/OWNER/wharf --tag-semver v0.1.0 --tag-latest
#
# The binary comes from the context (dist/wharf; .dockerignore lets nothing else in), built
# by cargo outside: a build inside the engine would need crates.io from within the build.
# BASE: any image with glibc; distroless's cc image (its :debug variant has the shell).
ARG BASE=gcr.io/distroless/cc-debian12:debug
FROM ${BASE}
COPY dist/wharf /usr/local/bin/wharf
ENTRYPOINT ["/usr/local/bin/wharf"]
CMD ["--help"]
