/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The real process-wide facilities (proc-sys.c).
 */
#pragma once

#include "drivers/proc.h"

extern const struct proc_ops proc_sys_ops;
