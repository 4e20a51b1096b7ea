#!/usr/bin/env bash
# Installs bertsweep's build and test dependencies from Debian 12's packages (idempotent).
set -euo pipefail
PKGS=(cmake pkg-config build-essential openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
      libopenblas-openmp-dev libcjson-dev libutf8proc-dev libzip-dev zlib1g-dev python3-pandas python3-xarray python3-h5netcdf
      python3-torch python3-h5py python3-numpy python3-matplotlib python3-scipy)
# --test: also what the tests drive (a real Slurm, namespaces, a headless browser)
if [ "${1:-}" = --test ]; then
  PKGS+=(slurmctld slurmd slurm-client munge iproute2 util-linux chromium chromium-driver python3-selenium)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
