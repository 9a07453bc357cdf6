# Sourced by the MPI test scripts: the environment of a job on this machine.
# Open MPI refuses root unless told (CI containers run as root); shared
# memory between the ranks (one machine; no network probing in CI). Under
# AddressSanitizer (make asan), memory that Open MPI keeps until exit is
# not a parlua leak: its plugins stay loaded and stacks are unwound fully,
# so that tests/lsan-mpi.supp can name Open MPI's libraries (docs/design.md,
# "Distributed jobs"). Harmless in other builds.
mpi_env_dir=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_oob_tcp_if_include=lo
# copies through the shared segment, not Linux CMA (process_vm_readv),
# which containers without CAP_SYS_PTRACE refuse with a warning
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_mca_base_component_disable_dlclose=1
export LSAN_OPTIONS="suppressions=$mpi_env_dir/lsan-mpi.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
