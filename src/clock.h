/* Seconds on the monotonic clock, for timing and progress. */
#ifndef BS_CLOCK_H
#define BS_CLOCK_H

double clock_seconds(void);

#endif
