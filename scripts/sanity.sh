#!/usr/bin/env bash
# ansible-test sanity (or units) for this collection, offline, everything under the checkout's .cache/.
#   scripts/sanity.sh                      ansible-test sanity on Python 3.11 (the controller's)
#   scripts/sanity.sh units                ansible-test units
#   scripts/sanity.sh sanity --test pylint ...   any ansible-test arguments after the command
# Idempotent: each run refreshes the copy and reuses the sanity virtual environments.
#
# Why each step:
# - ansible-test runs only from a directory named .../ansible_collections/<namespace>/<name>, and
#   it takes the working directory as the kernel reports it: the `make link` symlink
#   (.collections/...) resolves back to the checkout, which ansible-test refuses ("The current
#   working directory must be within the source tree being tested"). So the collection
#   is copied: the files git tracks plus the untracked ones it does not ignore (the set ansible-test
#   itself would test in a git checkout), nothing of .venv, .cache, .collections or .git.
# - ansible-test keeps its sanity virtual environments and its pip bootstrap cache under
#   ~/.ansible/test: HOME points into .cache/ansible-test so nothing is written outside the checkout.
# - Each sanity virtual environment is created without pip and bootstrapped by a get-pip script that
#   ansible-test downloads from ci-files.testing.ansible.com (ansible_test/_util/target/setup/
#   requirements.py, bootstrap()), unless the script is already in its cache; that host is not
#   reachable here. The cache gets an equivalent written below: the pip wheel that ships with
#   Python (ensurepip) installs the pinned packages ansible-test asks for (pip==24.2) from PyPI,
#   which is what get-pip.py does with the wheel it embeds. Everything else ansible-test then
#   installs into those environments comes from its own pinned files
#   (ansible_test/_data/requirements/sanity.*.txt), from PyPI.
# - No --venv: that would create a delegation environment and reinstall ansible-core and
#   ansible-test's requirements into it; `--python 3.11` runs ansible-test with the project's venv
#   (ansible-core 2.19 from requirements.txt, boto3, pytest), which is what the collection claims.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="$ROOT/.cache/ansible-test"
TREE="$CACHE/ansible_collections/leverslabs/asset_manager"
BIN="$ROOT/.venv/bin"
PYTHON_VERSION="${SANITY_PYTHON:-3.11}"

command=${1:-sanity}
shift || true

# The copy: remove what a previous run copied (keeping ansible-test's results in tests/output),
# then copy the current files, so that deleted and renamed files do not linger.
mkdir -p "$TREE"
find "$TREE" -mindepth 1 -maxdepth 1 ! -name tests -exec rm -rf {} +
if [ -d "$TREE/tests" ]; then
  find "$TREE/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} +
fi
(
  cd "$ROOT"
  git ls-files -z --cached --others --exclude-standard --deduplicate |
    while IFS= read -r -d '' path; do
      # A tracked file deleted in the working tree is not part of what is tested.
      if [ -e "$path" ] || [ -L "$path" ]; then printf '%s\0' "$path"; fi
    done |
    tar --null --files-from=- --create --file=- | tar --extract --file=- --directory="$TREE"
)

# The collections galaxy.yml depends on, beside the copy: ansible-test gives Ansible only the copy's
# collection root (ANSIBLE_COLLECTIONS_PATH), so the doc fragments and module_utils of amazon.aws
# must be found there. They link to the versions the project's venv has (the `ansible` package of
# requirements.txt), which is what the other tests run with; Galaxy is not needed.
"$BIN/python" - "$ROOT/galaxy.yml" "$CACHE/ansible_collections" <<'PY'
import importlib.util
import os
import sys

import yaml

galaxy, root = sys.argv[1:]
with open(galaxy, encoding="utf-8") as stream:
    dependencies = yaml.safe_load(stream)["dependencies"]
for name in dependencies:
    spec = importlib.util.find_spec(f"ansible_collections.{name}")
    if spec is None:
        sys.exit(f"collection {name} (a dependency in galaxy.yml) is not installed in the venv")
    source = list(spec.submodule_search_locations)[0]
    link = os.path.join(root, *name.split("."))
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.islink(link) and os.readlink(link) == source:
        continue
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(source, link)
PY

# ansible-test's home: sanity virtual environments and the pip bootstrap script.
export HOME="$CACHE/home"
export XDG_CACHE_HOME="$CACHE/xdg"
export ANSIBLE_HOME="$CACHE/home/.ansible"
# ansible-test's own temporary copies (of ansible-core, per run) and pytest's temporary directories.
export TMPDIR="$CACHE/tmp"
mkdir -p "$TMPDIR"
# The pip version ansible-test pins for its environments names the script it looks for.
PIP_VERSION="$("$BIN/python" -c '
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])' "$PYTHON_VERSION")"
GET_PIP="$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py"
mkdir -p "$(dirname "$GET_PIP")"
cat >"$GET_PIP" <<'EOF'
"""Offline stand-in for ansible-test's get-pip script (written by scripts/sanity.sh).

ansible-test runs it with the sanity virtual environment's Python and the arguments of get-pip.py:
the packages to install (pip==<version>) and --no-setuptools / --no-wheel. Like get-pip.py, it runs
pip from a wheel, here the one Python ships in ensurepip, to install them from the package index.
"""

import glob
import os
import sys

import ensurepip

wheels = glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl"))
if not wheels:
    sys.exit("ensurepip has no bundled pip wheel: cannot bootstrap pip")
sys.path.insert(0, wheels[0])

from pip._internal.cli.main import main  # noqa: E402

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--upgrade", "--force-reinstall", *args]))
EOF

# The copy lies inside this checkout's git work tree (ignored, under .cache/): left to find its own
# source provider, ansible-test walks up to the checkout's .git, asks git for the files under the
# copy and gets none ("All targets skipped"). Naming the content root makes it list the copy's files.
export ANSIBLE_TEST_CONTENT_ROOT="$TREE"
cd "$TREE"
case "$command" in
  sanity)
    # Without shellcheck ansible-test only warns and skips that test.
    if ! command -v shellcheck >/dev/null && [[ " $* " != *" --test "* ]] &&
      [[ " $* " != *" --skip-test shellcheck "* ]]; then
      echo "sanity.sh: needs shellcheck (apt-get install shellcheck)" >&2
      exit 1
    fi
    exec "$BIN/ansible-test" sanity --python "$PYTHON_VERSION" --color no "$@"
    ;;
  units)
    exec "$BIN/ansible-test" units --python "$PYTHON_VERSION" --color no "$@"
    ;;
  *)
    exec "$BIN/ansible-test" "$command" "$@"
    ;;
esac
