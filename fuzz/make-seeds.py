#!/usr/bin/env python3
"""Writes the hand-made seed inputs of fuzz/corpus/ (deterministic; run from the repo root).
The fuzzer adds what it finds to the same directories; `scripts/fuzz` minimizes them."""
import hashlib, io, json, os, tarfile, gzip

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)

ex = os.path.join(os.path.dirname(root), "..", "examples")
for name, rel in [("flant", "flant/werf.yaml"), ("nameless", "nameless/wharf.yaml"), ("deps", "dependencies/wharf.yaml")]:
    put("config_yaml", name, open(os.path.join(ex, rel), "rb").read())
put("config_yaml", "policies", "project: p\nconfigVersion: 1\ncleanup:\n  keepPolicies:\n  - references: {branch: main}\n    imagesPerReference: {last: 2, in: 168h, operator: Or}\n  - references: {tag: /v.*/, limit: {last: 10}}\n---\nimage: a\ndockerfile: Dockerfile\nargs: {A: b}\ndependencies:\n- image: b\n  imports: [{type: ImageName, targetBuildArg: B}]\n---\nimage: b\n")

for i, r in enumerate(["ubuntu", "library/ubuntu:22.04", "ghcr.io/org/app:v1.2.3", "localhost:5000/a/b/c@sha256:" + "e" * 64,
                       "[::1]:5000/app:x", "registry.example.com:443/ns/repo:tag@sha256:" + "0" * 64, "127.0.0.1:1/Flant", "a" * 130]):
    put("reference", str(i), r)

for i, h in enumerate(['Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
                       'Basic realm="Registry Realm"',
                       'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
                       'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull,push",error="insufficient_scope"\nBasic realm="x"',
                       'Bearer  ,, realm = "r" , scope="a b"  , Token68abc==']):
    put("www_authenticate", str(i), h)

d = lambda b: "sha256:" + hashlib.sha256(b).hexdigest()
config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
oci_manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d(b"l"), "size": 1}],
    "annotations": {"dev.wharf.untag": "x"}}).encode()
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d(oci_manifest), "size": len(oci_manifest),
                   "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}]}).encode()
docker = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": d(config), "size": len(config)},
    "layers": []}).encode()
for i, (sel, m) in enumerate([(0, oci_manifest), (1, index), (2, docker), (4, index), (4, oci_manifest)]):
    put("manifest", str(i), bytes([sel]) + m)

def tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if isinstance(data, tuple):  # (type, linkname)
                info.type, info.linkname = data
            else:
                info.size = len(data)
            info.mtime = 0
            t.addfile(info, io.BytesIO(data) if not isinstance(data, tuple) else None)
    return buf.getvalue()

layer = tar_bytes([("hello.txt", b"hello\n")])
gz_layer = gzip.compress(layer, mtime=0)
cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [d(layer), d(layer)]}}).encode()
manifest = json.dumps([{"Config": "config.json", "RepoTags": ["app:v1"], "Layers": ["l1/layer.tar", "l2/layer.tar.gz"]}]).encode()
put("docker_archive", "two-layers", tar_bytes([("manifest.json", manifest), ("config.json", cfg), ("l1/layer.tar", layer), ("l2/layer.tar.gz", gz_layer)]))
put("docker_archive", "symlinked-layer", tar_bytes([("manifest.json", manifest), ("config.json", cfg), ("l1/layer.tar", layer),
    ("l2/layer.tar.gz", (tarfile.SYMTYPE, "../l1/layer.tar"))]))
put("docker_archive", "escape", tar_bytes([("manifest.json", manifest), ("config.json", cfg), ("l1/layer.tar", (tarfile.SYMTYPE, "../../../etc/passwd"))]))

# OCI layout tars (what buildx and `skopeo copy oci-archive:` write), and gzipped archives.
blob_config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [d(layer)]}}).encode()
img = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(blob_config), "size": len(blob_config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d(gz_layer), "size": len(gz_layer)}]}).encode()
oci_index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": d(img), "size": len(img), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}).encode()
blob = lambda b: ("blobs/sha256/" + hashlib.sha256(b).hexdigest(), b)
oci_tar = tar_bytes([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", oci_index), blob(img), blob(blob_config), blob(gz_layer)])
put("oci_source", "oci-layout", oci_tar)
put("oci_source", "oci-layout-gz", gzip.compress(oci_tar, mtime=0))
docker_tar = tar_bytes([("manifest.json", manifest), ("config.json", cfg), ("l1/layer.tar", layer), ("l2/layer.tar.gz", gz_layer)])
put("oci_source", "docker-archive", docker_tar)
put("oci_source", "docker-archive-gz", gzip.compress(docker_tar, mtime=0))

layout_index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "@BLOB@", "size": len(index),
    "annotations": {"org.opencontainers.image.ref.name": "app:v1"}}]}).encode()
put("oci_layout", "index-of-index", layout_index + b"\0" + index)
put("oci_layout", "empty", b'{"schemaVersion":2,"manifests":[]}')
