// Linked into every test binary; only a ThreadSanitizer build uses it.
//
// libuv closes file descriptors through a raw close system call, which
// ThreadSanitizer does not intercept. When the kernel hands the number out
// again to an open() on another thread (the persister writing a snapshot
// while a client's loop was just torn down), TSan pairs that open with
// libuv's earlier epoll_create1 or socket on the same number and reports a
// race on the descriptor that never happened. Interceptors called from
// libuv are therefore not tracked; the code under test is.
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_suppressions() { return "called_from_lib:libuv.so\n"; }
#endif
