/* Fault injection for the tests: BERTSWEEP_FAULT="kind:A:B" makes fault_hit("kind", A, B)
   true (e.g. kill:2:30 = SIGKILL after step 30 of run 2). Read from the environment at
   each call: no state. Unset, it costs a getenv. */
#ifndef BS_FAULT_H
#define BS_FAULT_H

int fault_hit(const char *kind, long a, long b);
/* Raises SIGKILL when fault_hit(kind, a, b). */
void fault_kill(const char *kind, long a, long b);
/* Benchmarks: BERTSWEEP_STEP_DELAY seconds of sleep after every training step, to stand in
   for a big model's steps with a tiny one (bench/dispatch.sh). The numbers do not change. */
void fault_step_delay(void);
/* Tests: BERTSWEEP_EVAL_DELAY seconds of sleep after every evaluation batch (a large dev set). */
void fault_eval_delay(void);
/* 0 when BERTSWEEP_FAULT is unset or well formed. */
int fault_check_env(void);

#endif
