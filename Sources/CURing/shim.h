#pragma once
// Order matters: Glibc's fd_set must be seen before liburing's headers pull in <linux/...>.
#include <sys/socket.h>
#include <sys/select.h>
#include <poll.h>
#include <liburing.h>
