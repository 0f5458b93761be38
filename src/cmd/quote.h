/*
 * quote.h - mquote's answer: mbatch's job description placed and priced
 * by mctld now (MSG_QUOTE), printed.
 */
#ifndef MER_QUOTE_H
#define MER_QUOTE_H

#include <stdbool.h>

#include "cmd.h"

/* Ask mctld about desc and print its answer (JSON with json): an exit
 * status, MER_EXIT_OK also when the job would wait. */
int quote_show(struct cmd *c, const Meridian__JobDesc *desc, bool json);

#endif
