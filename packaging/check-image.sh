#!/usr/bin/env bash
# Smoke-test a built image: start swarmd from it with its own entry point, user and
# configuration, wait until the image's health check command reports healthy, ask
# swarmctl for the status, stop it with SIGTERM and check the exit status.
#
#   packaging/check-image.sh IMAGE          (make image-check IMAGE=...)
#
# With docker or podman the image runs as a container. With buildah alone (machines
# whose cgroups no OCI runtime accepts) it runs with `buildah run --isolation chroot`
# on the host's network: the dashboard port is then a free port of the host's.
set -euo pipefail
IMAGE=${1:?usage: $0 IMAGE}
TIMEOUT=${CHECK_TIMEOUT:-180}
HC=(/opt/swarmd/.venv/bin/python -m swarmd.tools.healthcheck --probe live)

if [ "${BUILDER:-}" != buildah ] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=docker
elif [ "${BUILDER:-}" != buildah ] && command -v podman >/dev/null; then
  engine=podman
elif command -v buildah >/dev/null; then
  engine=buildah
else
  echo "check-image: no docker, podman or buildah" >&2; exit 2
fi

log=$(mktemp)
if [ "$engine" = buildah ]; then
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  ctr=$(buildah from "$IMAGE")
  env=(--env "SWARMD_WEB__PORT=$port" --env 'SWARMD_P2P__LISTEN=["/ip4/127.0.0.1/tcp/0"]')
  user=$(buildah inspect --type image --format '{{.Docker.Config.User}}' "$IMAGE")
  entry=$(buildah inspect --type image --format '{{range .Docker.Config.Entrypoint}}{{.}} {{end}}' "$IMAGE")
  in_image() { buildah run --isolation chroot --network host --user "$user" "${env[@]}" "$ctr" -- "$@"; }
  # shellcheck disable=SC2086  # the entry point's words
  in_image $entry >"$log" 2>&1 &
  runner=$!
  descendants() { # PIDs below $1, parents first
    local child
    for child in $(ps -o pid= --ppid "$1"); do echo "$child"; descendants "$child"; done
  }
  entry_pid() { # the image's entry point (tini) under our buildah run
    local p
    for p in $(descendants "$runner"); do
      if [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "$entry" ]; then echo "$p"; return; fi
    done
  }
  cleanup() {
    local p
    p=$(entry_pid)
    [ -z "$p" ] || kill -KILL "$p" 2>/dev/null || true
    wait "$runner" 2>/dev/null || true
    buildah rm "$ctr" >/dev/null
    rm -f "$log"
  }
  stop() { # SIGTERM to the entry point (tini), which forwards it to swarmd
    kill -TERM "$(entry_pid)"
    wait "$runner"
  }
else
  name=swarmd-check-$$
  "$engine" run -d --name "$name" "$IMAGE" >/dev/null
  in_image() { "$engine" exec "$name" "$@"; }
  cleanup() { "$engine" logs "$name" >"$log" 2>&1 || true; "$engine" rm -f "$name" >/dev/null 2>&1 || true; rm -f "$log"; }
  stop() { "$engine" stop -t 60 "$name" >/dev/null; return "$("$engine" inspect --format '{{.State.ExitCode}}' "$name")"; }
fi
trap cleanup EXIT

echo "==> $IMAGE ($engine): waiting for the health check (${TIMEOUT}s at most)"
deadline=$((SECONDS + TIMEOUT))
until out=$(in_image "${HC[@]}" 2>&1); do
  if [ $SECONDS -ge $deadline ]; then
    echo "check-image: not healthy within ${TIMEOUT}s: $out" >&2; tail -20 "$log" >&2; exit 1
  fi
  sleep 2
done
echo "    $out"
echo "==> swarmctl status"
in_image /opt/swarmd/.venv/bin/swarmctl status | sed 's/^/    /'
echo "==> stop (SIGTERM)"
rc=0; stop || rc=$?
[ "$rc" -eq 0 ] || { echo "check-image: swarmd exited with $rc" >&2; tail -20 "$log" >&2; exit 1; }
echo "==> $IMAGE: healthy, answered, stopped cleanly"
