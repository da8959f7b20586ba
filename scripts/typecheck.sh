#!/usr/bin/env bash
# mypy (strict) and the import-linter contracts over the shipped packages.
#
# The distribution maps folders to subpackages (cli/ -> tawa.cli, ...) with
# setuptools package-dir, which mypy cannot follow. We lay out a tree of
# symlinks with the import layout and check that.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tree="$root/.tools/typecheck"
mkdir -p "$root/.tools"
# One run at a time: the symlink tree is shared.
exec 9>"$root/.tools/typecheck.lock"
flock 9
rm -rf "$tree" && mkdir -p "$tree/tawa"
for entry in "$root"/tawa/*; do ln -s "$entry" "$tree/tawa/$(basename "$entry")"; done
for component in cli operator registry gateway identity wallet localkube; do
  [ -d "$root/$component" ] && ln -s "$root/$component" "$tree/tawa/$component"
done
cd "$tree"
"$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" -p tawa "$@"
PYTHONPATH="$tree" "$root/.venv/bin/lint-imports" "$root/pyproject.toml"
