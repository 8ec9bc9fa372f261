#!/usr/bin/env bash
# `sam local invoke` of template.yaml's CanaryFunction (arm64) for real, with no image pulled and
# no container able to reach beyond this machine (run by `make test-sam`, after `make build` and
# `make setup-system`). The recipe is ../shared/sam-local.md; as root:
#
#  1. its own dockerd: vfs storage, private --data-root/--exec-root/--pidfile and socket
#     (DOCKER_HOST for docker and SAM), no iptables/ip-forward/masquerade of its own, a bridge
#     (docker0) with its own --bip, and iptables FORWARD DROP rules for docker0 so containers
#     can reach this machine's own servers only (the rules go when it stops);
#  2. the base image SAM expects, public.ecr.aws/lambda/provided:al2023-arm64, imported from a
#     busybox-static rootfs plus the aarch64 loader and libraries of libc6-arm64-cross
#     (busybox stays x86_64 so SAM's own RUN step runs natively);
#  3. binfmt qemu-aarch64 enabled (machine-wide: restored to its state before when we stop);
#  4. tests/infra/sam_local_test.py: moto on the bridge's gateway address, a copy of the
#     template whose CodeUri is `make build`'s zip, an --env-vars file from events/env.json
#     pointing at that moto, `sam local invoke --skip-pull-image` of events/scheduled.json and
#     events/on-demand.json, the reports asserted;
#  5. on exit (trap): dockerd stopped by its PID, the FORWARD rules removed, the bridge deleted,
#     the temporary directory removed.
#
# Environment: SAM_BRIDGE_CIDR (default 172.30.213.1/24) the bridge's --bip; LAMBDA_ZIP (default
# $CARGO_TARGET_DIR or target, /lambda/dynamodb-auth-canary/bootstrap.zip); KEEP_SAM_TMP=1 keeps
# the temporary directory (daemon log, SAM's output).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export AWS_EC2_METADATA_DISABLED=true
export PATH="$ROOT/.venv/bin:$PATH"

BIP="${SAM_BRIDGE_CIDR:-172.30.213.1/24}"
GATEWAY="${BIP%/*}"
ZIP="${LAMBDA_ZIP:-${CARGO_TARGET_DIR:-$ROOT/target}/lambda/dynamodb-auth-canary/bootstrap.zip}"
SYSROOT=/usr/aarch64-linux-gnu
IMAGE=public.ecr.aws/lambda/provided:al2023-arm64
BRIDGE=docker0

t0=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

die() { echo "sam-local: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (dockerd, iptables, binfmt)"
[ -f "$ZIP" ] || die "no $ZIP: run make build"
for tool in dockerd containerd runc iptables busybox qemu-aarch64-static update-binfmts; do
  command -v "$tool" >/dev/null || die "$tool missing: run make setup-system"
done
[ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] || die "$SYSROOT has no aarch64 loader: run make setup-system"
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  if pgrep -x dockerd >/dev/null; then
    die "$BRIDGE already exists and a dockerd runs on this machine: stop it first"
  fi
  # Left by a run that was killed before its cleanup: no daemon owns it.
  ip link delete "$BRIDGE"
  while iptables -D FORWARD -i "$BRIDGE" -j DROP 2>/dev/null; do :; done
  while iptables -D FORWARD -o "$BRIDGE" -j DROP 2>/dev/null; do :; done
fi

WORK="$(mktemp -d /tmp/sam-local.XXXXXX)"
DOCKERD_PID=""
RULES_ADDED=0
BINFMT_WAS=""

cleanup() {
  local rc=$?
  set +e
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    # Containers SAM left (it removes its own) go with the daemon: stop it by its PID.
    DOCKER_HOST="unix://$WORK/docker.sock" docker ps -aq 2>/dev/null | xargs -r env DOCKER_HOST="unix://$WORK/docker.sock" docker rm -f >/dev/null 2>&1
    kill "$DOCKERD_PID"
    for _ in $(seq 1 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && kill -9 "$DOCKERD_PID"
  fi
  if [ "$RULES_ADDED" = 1 ]; then
    iptables -D FORWARD -i "$BRIDGE" -j DROP 2>/dev/null
    iptables -D FORWARD -o "$BRIDGE" -j DROP 2>/dev/null
  fi
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE" 2>/dev/null
  if [ "$BINFMT_WAS" = disabled ]; then update-binfmts --disable qemu-aarch64 >/dev/null 2>&1; fi
  if [ -n "${KEEP_SAM_TMP:-}" ] || [ "$rc" != 0 ]; then
    echo "sam-local: files kept in $WORK (dockerd.log, sam output)" >&2
  else
    # vfs layers of the daemon's data-root can be read-only directories: make them removable.
    chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"
  fi
  echo "sam-local: cleaned up (total $(since "$t0") s)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 3. binfmt for aarch64 (the container's bootstrap and RIE are arm64)
t=$(date +%s.%N)
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
  BINFMT_WAS=enabled
else
  BINFMT_WAS=disabled
  update-binfmts --enable qemu-aarch64
fi
grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || die "qemu-aarch64 binfmt is not preloaded (flag F)"
echo "sam-local: binfmt qemu-aarch64 enabled (was $BINFMT_WAS) in $(since "$t") s"

# ---- 1. dockerd of our own
t=$(date +%s.%N)
export DOCKER_HOST="unix://$WORK/docker.sock"
# The rules first: no window in which a container could route out.
iptables -I FORWARD -i "$BRIDGE" -j DROP
iptables -I FORWARD -o "$BRIDGE" -j DROP
RULES_ADDED=1
dockerd --host "$DOCKER_HOST" --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
  --storage-driver=vfs --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
  --userland-proxy=true --bip "$BIP" >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 300); do
  docker version >/dev/null 2>&1 && break
  kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -n 30 "$WORK/dockerd.log" >&2; die "dockerd exited"; }
  sleep 0.1
done
docker version >/dev/null 2>&1 || { tail -n 30 "$WORK/dockerd.log" >&2; die "dockerd did not answer within 30 s"; }
ip -4 addr show "$BRIDGE" | grep -q "inet $GATEWAY/" || die "$BRIDGE does not have $GATEWAY"
echo "sam-local: dockerd $DOCKERD_PID up on $DOCKER_HOST, bridge $BRIDGE $BIP, FORWARD dropped, in $(since "$t") s"

# ---- 2. the base image SAM expects, imported (never pulled)
t=$(date +%s.%N)
rootfs="$WORK/rootfs"
mkdir -p "$rootfs"/{bin,lib,lib64,usr/bin,usr/lib,var/task,var/runtime,opt,etc,tmp}
chmod 1777 "$rootfs/tmp"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
  [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
# The aarch64 loader and the libraries a Rust glibc binary links (libc6-arm64-cross, libgcc-s1-arm64-cross).
for lib in ld-linux-aarch64.so.1 libc.so.6 libm.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2 librt.so.1; do
  cp -L "$SYSROOT/lib/$lib" "$rootfs/lib/$lib"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
tar -C "$rootfs" -c . | docker import --platform linux/arm64 -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin' \
  -c 'WORKDIR /var/task' - "$IMAGE" >/dev/null
echo "sam-local: imported $IMAGE ($(du -sh "$rootfs" | cut -f1)) in $(since "$t") s"

# ---- 4. the invocations
"$ROOT/.venv/bin/python" "$ROOT/tests/infra/sam_local_test.py" --gateway "$GATEWAY" --zip "$ZIP" --work "$WORK"
