# Sourced by the scripts here: run_as_root CMD... runs CMD as root (directly, or via sudo).
run_as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo --preserve-env=BK_WORK,REGISTRY,QEMU,ROOTLESS,FORCE_BUILD "$@"; fi
}
