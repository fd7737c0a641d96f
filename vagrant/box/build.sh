#!/usr/bin/env bash
# Builds netkube's Debian 12 vagrant-libvirt box from Debian's archive alone, for a machine
# that cannot reach Vagrant Cloud (debian/bookworm64 is the Vagrantfile's default elsewhere):
#
#   sudo bash vagrant/box/build.sh              # prints the path of the .box
#   vagrant box add --name netkube/bookworm64 "$(sudo bash vagrant/box/build.sh)"
#   NETKUBE_BOX=netkube/bookworm64 vagrant up --provider libvirt
#
# What is in it: a debootstrap'd bookworm (minbase) with the kernel, systemd, sshd and sudo,
# the Debian packages netkube's agent and server run (nftables, iptables, ipset, ipvsadm,
# conntrack, etcd, busybox, openssl, dig, ...), this machine's Node 20 binary (Debian 12's own
# nodejs is 18), the `vagrant` user with Vagrant's insecure key and passwordless sudo, and grub
# on /dev/vda. The provisioner then needs no network at all.
#
# The result is cached under $NETKUBE_BOX_CACHE (default /var/cache/netkube/vagrant), named by
# a hash of this recipe (this file, the box Vagrantfile, the node binary's version, the key):
# it is rebuilt only when one of them changes (the .debs stay cached in debs/ for that). Needs root (debootstrap, loop devices, mount) and qemu-system-x86_64 (grub is
# installed from inside a first boot: without udev here, `losetup -P` makes no partition
# nodes, so grub-install cannot run from the host); Debian packages: debootstrap fdisk
# qemu-system-x86 qemu-utils (scripts/setup-vagrant.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MIRROR=${NETKUBE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${NETKUBE_BOX_CACHE:-/var/cache/netkube/vagrant}
NODE_BIN=${NETKUBE_BOX_NODE:-$(command -v node)}
DISK_GB=8
PACKAGES=(
  linux-image-amd64 systemd-sysv dbus openssh-server sudo kmod initramfs-tools grub-pc
  iproute2 nftables iptables ipset ipvsadm conntrack iputils-ping procps
  ca-certificates curl rsync openssl socat netcat-openbsd bind9-dnsutils
  etcd-server etcd-client busybox-static libstdc++6
)
KEY=${NETKUBE_BOX_KEY:-$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub 2>/dev/null | tail -n1)}
[ -r "$KEY" ] || { echo "box: Vagrant's insecure public key not found (install vagrant or set NETKUBE_BOX_KEY)" >&2; exit 1; }
[ -x "$NODE_BIN" ] || { echo "box: no node binary (set NETKUBE_BOX_NODE)" >&2; exit 1; }
node_version=$("$NODE_BIN" --version)
case "$node_version" in v20.*) ;; *) echo "box: $NODE_BIN is $node_version, netkube needs Node 20" >&2; exit 1 ;; esac

hash=$( { cat "$0" "$here/Vagrantfile.box"; echo "$node_version"; cat "$KEY"; } | sha256sum | cut -c1-16)
out="$CACHE/netkube-bookworm64-$hash.box"
if [ -s "$out" ]; then echo "$out"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "box: run as root" >&2; exit 1; }
mkdir -p "$CACHE"

work=$(mktemp -d /var/tmp/netkube-box.XXXXXX)
loop=""
cleanup() {
  mountpoint -q "$work/mnt" 2>/dev/null && umount -R "$work/mnt" || true
  for m in dev/pts dev proc sys; do mountpoint -q "$work/root/$m" 2>/dev/null && umount "$work/root/$m" || true; done
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
log() { echo "box: $*" >&2; }

t0=$(date +%s)
log "debootstrap bookworm from $MIRROR"
mkdir -p "$CACHE/debs"
debootstrap --variant=minbase --cache-dir="$CACHE/debs" --include="$(IFS=,; echo "${PACKAGES[*]}")" bookworm "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
log "debootstrap done in $(( $(date +%s) - t0 )) s"

r="$work/root"
echo netkube > "$r/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 netkube\n' > "$r/etc/hosts"
echo 'LABEL=root / ext4 errors=remount-ro 0 1' > "$r/etc/fstab"
# eth0 (vagrant's management network) by DHCP; vagrant writes eth1's own .network file
# (its Debian guest uses systemd-networkd when that is active).
cat > "$r/etc/systemd/network/10-eth0.network" <<'EOF'
[Match]
Name=eth0
[Network]
DHCP=ipv4
[DHCPv4]
ClientIdentifier=mac
EOF
ln -sf /lib/systemd/system/systemd-networkd.service "$r/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
# No internet in the lab: nothing to wait for but eth0.
mkdir -p "$r/etc/systemd/system/systemd-networkd-wait-online.service.d"
printf '[Service]\nExecStart=\nExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout 30\n' \
  > "$r/etc/systemd/system/systemd-networkd-wait-online.service.d/any.conf"
# A machine-id per VM, not per box (systemd makes one on first boot): networkd's DHCP DUID and
# more derive from it; with one id for all, the VMs shared one DHCP lease and never all came up.
: > "$r/etc/machine-id"
rm -f "$r/var/lib/dbus/machine-id"
# Host keys per VM, not per box: made on first boot.
rm -f "$r"/etc/ssh/ssh_host_*
mkdir -p "$r/etc/systemd/system/ssh.service.d"
# (before Debian's own `sshd -t`, which fails without keys: the list is reset and restated)
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' > "$r/etc/systemd/system/ssh.service.d/hostkeys.conf"
printf 'UseDNS no\n' > "$r/etc/ssh/sshd_config.d/vagrant.conf"
# The kernel modules netkube uses, loaded at boot (IPVS is what this box exists for).
printf '%s\n' br_netfilter vxlan ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh nf_conntrack > "$r/etc/modules-load.d/netkube.conf"
# Debian's etcd unit would hold 2379 on loopback; netkube's server runs its own.
rm -f "$r/etc/systemd/system/multi-user.target.wants/etcd.service"
# Node 20: this machine's binary (it needs only libc and libstdc++).
install -m 755 "$NODE_BIN" "$r/usr/local/bin/node"
# The vagrant user: password vagrant, Vagrant's insecure key, passwordless sudo.
chroot "$r" useradd -m -s /bin/bash -G sudo vagrant
echo 'vagrant:vagrant' | chroot "$r" chpasswd
install -d -m 700 -o 1000 -g 1000 "$r/home/vagrant/.ssh"
install -m 600 -o 1000 -g 1000 "$KEY" "$r/home/vagrant/.ssh/authorized_keys"
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' > "$r/etc/sudoers.d/vagrant"
chmod 440 "$r/etc/sudoers.d/vagrant"
# grub: serial console, stable NIC names, a short menu.
sed -i -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=0/' \
  -e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0 net.ifnames=0 biosdevname=0"/' "$r/etc/default/grub"
# The first boot's init: installs grub on the disk it runs from, then powers off.
cat > "$r/usr/local/sbin/netkube-box-grub" <<'EOF'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
mount -o remount,rw /
grub-install /dev/vda && update-grub && echo NETKUBE-BOX-GRUB-OK
rm -f /usr/local/sbin/netkube-box-grub
# sysrq's power-off is asynchronous: init must not exit first (a panic; panic=1 below ends it too)
sync; mount -o remount,ro /; echo 1 > /proc/sys/kernel/sysrq; echo o > /proc/sysrq-trigger; sleep 60
EOF
chmod 755 "$r/usr/local/sbin/netkube-box-grub"
chroot "$r" apt-get clean
rm -rf "$r"/var/lib/apt/lists/* "$r"/var/log/*.log
kernel=$(ls "$r"/boot/vmlinuz-* | tail -n1)
initrd=$(ls "$r"/boot/initrd.img-* | tail -n1)
cp "$kernel" "$work/vmlinuz"; cp "$initrd" "$work/initrd"

log "disk image (${DISK_GB} GiB, one ext4 partition)"
img="$work/disk.raw"
truncate -s "${DISK_GB}G" "$img"
echo 'start=2048, type=83, bootable' | sfdisk -q "$img"
size=$(( DISK_GB * 1024 * 1024 * 1024 - 1048576 ))
loop=$(losetup -f --show -o 1048576 --sizelimit "$size" "$img")
mkfs.ext4 -q -L root "$loop"
mkdir -p "$work/mnt"
mount "$loop" "$work/mnt"
cp -a "$r/." "$work/mnt/"
umount "$work/mnt"
losetup -d "$loop"; loop=""
rm -rf --one-file-system "$r"

log "first boot (TCG): grub-install"
timeout 600 qemu-system-x86_64 -accel tcg,tb-size=128 -cpu max -m 768 -nographic -no-reboot \
  -drive "file=$img,format=raw,if=virtio" -kernel "$work/vmlinuz" -initrd "$work/initrd" \
  -append "root=/dev/vda1 rw console=ttyS0 panic=1 init=/usr/local/sbin/netkube-box-grub" -nic none \
  >"$work/firstboot.log" 2>&1 </dev/null || true
grep -q NETKUBE-BOX-GRUB-OK "$work/firstboot.log" || { tail -n 40 "$work/firstboot.log" >&2; log "grub-install failed"; exit 1; }

log "qcow2 + box"
mkdir -p "$work/box"
qemu-img convert -O qcow2 "$img" "$work/box/box.img"
rm -f "$img"
printf '{"provider":"libvirt","format":"qcow2","virtual_size":%d}\n' "$DISK_GB" > "$work/box/metadata.json"
cp "$here/Vagrantfile.box" "$work/box/Vagrantfile"
tar -C "$work/box" -cf "$out.tmp" metadata.json Vagrantfile box.img
mv "$out.tmp" "$out"
log "built $out in $(( $(date +%s) - t0 )) s"
echo "$out"
