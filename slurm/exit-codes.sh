# bertsweep's exit codes for the Slurm wrappers, generated from src/err.h by
# scripts/gen_exit_codes.py (tests/source_rules.py checks it): edit src/err.h, then run it.
EXIT_OK=0
EXIT_ERROR=1
EXIT_USAGE=2
EXIT_STOPPED=3
EXIT_IO=4
EXIT_USER_STOP=5
EXIT_BUSY=6
EXIT_SILENT=7
