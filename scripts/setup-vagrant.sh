#!/usr/bin/env bash
# What `npm run test:vagrant` needs beyond scripts/setup.sh (kept apart: a few hundred MB that
# neither npm test nor CI use): Vagrant with vagrant-libvirt, libvirt and QEMU, the box
# recipe's tools (debootstrap, sfdisk) and the package relay (tinyproxy). Safe to run again.
set -euo pipefail
declare -A NEED=(
  [vagrant]=vagrant [libvirtd]=libvirt-daemon-system [virtlogd]=libvirt-daemon-system [virsh]=libvirt-clients
  [qemu-system-x86_64]=qemu-system-x86 [qemu-img]=qemu-utils [debootstrap]=debootstrap [sfdisk]=fdisk
  [tinyproxy]=tinyproxy [socat]=socat [dnsmasq]=dnsmasq-base [ssh]=openssh-client [rsync]=rsync
)
missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${NEED[$cmd]}")
done
[ -d /usr/share/rubygems-integration/all/gems ] && ls -d /usr/share/rubygems-integration/all/gems/vagrant-libvirt-* >/dev/null 2>&1 || missing+=(vagrant-libvirt)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "setup-vagrant: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # package postinst scripts start no daemons here (no systemd); the test starts libvirtd itself
  apt-get install -y -qq --no-install-recommends "${missing[@]}" libvirt-daemon-driver-qemu ebtables >/dev/null
fi
