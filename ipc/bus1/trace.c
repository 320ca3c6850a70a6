// SPDX-License-Identifier: GPL-2.0
/*
 * bus1 trace events
 *
 * The events of include/trace/events/bus1.h are defined here. Each is a
 * static key while it is off: a site costs a jump that is not taken.
 * Only refused charges read a structure of bus1, the quota.
 */

#include "quota.h"

#define CREATE_TRACE_POINTS
#include <trace/events/bus1.h>
