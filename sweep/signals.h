/* SIGTERM, SIGUSR1 (Slurm's warning before the time limit) and SIGINT ask for a clean stop:
   every rank checkpoints at its next step boundary and exits with EXIT_STOPPED. */
#ifndef BS_SIGNALS_H
#define BS_SIGNALS_H

void signals_install(void);
/* The signal number received, or 0. */
int signals_pending(void);

#endif
