#!/usr/bin/env bash
# Builds vm-api/test-base:latest, a tiny busybox image for the Docker tests, without a registry:
# a rootfs made from Debian's static busybox is fed to `docker import`.
set -euo pipefail

IMAGE="${VM_API_TEST_IMAGE:-vm-api/test-base:latest}"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "build-test-image: $IMAGE already exists, nothing to do"
    exit 0
fi

if [[ ! -x /bin/busybox ]]; then
    # busybox-static: the dynamic busybox would need libc inside the image.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT

mkdir -p "$rootfs"/{bin,etc,root,tmp,proc,sys,dev}
chmod 1777 "$rootfs/tmp"
chmod 700 "$rootfs/root"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [[ "$applet" == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"

tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/bin' \
    --change 'CMD ["sh"]' \
    --message "vm-api test image: busybox-static" \
    - "$IMAGE" >/dev/null
echo "build-test-image: built $IMAGE from /bin/busybox ($(/bin/busybox --list | wc -l) applets)"
