/* Exit codes of custfs and custctl (README, "Exit codes"; the man pages). */
#ifndef CUSTFS_EXITCODE_H
#define CUSTFS_EXITCODE_H

enum exit_code {
	EXIT_OK = 0,       /* done; custfs: unmounted cleanly */
	EXIT_REFUSED = 1,  /* refused, denied, invalid input or a failure; custfs: could not start */
	EXIT_USAGE = 2,    /* bad command line (custfs: or mount point) */
	EXIT_NO_MOUNT = 3, /* custctl as staff: no custfs mount found */
};

#endif
