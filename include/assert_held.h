/* Lock preconditions the code can check: a function named *_locked asserts
 * that its caller holds the lock (pthread_mutex_trylock fails with EBUSY on a
 * held mutex). Compiled out with NDEBUG, like assert. */
#ifndef CUSTFS_ASSERT_HELD_H
#define CUSTFS_ASSERT_HELD_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>

#define ASSERT_HELD(m) assert(pthread_mutex_trylock(m) == EBUSY)

#endif
