// Asymmetric fences: the two halves of a store-then-load (Dekker) handshake
// where one side runs constantly and the other rarely. BackoffWait uses them:
// every publish and every reader commit is a notifier (frequent), a thread
// about to sleep is a sleeper (rare). So does the ring's reader table: the
// producer's scan of the reader cursors is frequent, a reader registering
// while the producer runs is rare.
//
// LightFence() is the frequent side. With Linux membarrier(2) it is only a
// compiler barrier; HeavyFence(), the rare side, makes every running thread
// of this process execute a full memory barrier before it returns. So for any
// LightFence L and HeavyFence H, either L's earlier stores are visible to the
// loads after H, or L's later loads see the stores before H: the guarantee a
// seq_cst fence on both sides would give, without a locked instruction (which
// waits for the store buffer to drain) on the frequent side.
//
// Pairing rule: a LightFence orders only against a HeavyFence, never against
// another LightFence. Without membarrier both are seq_cst fences.
#pragma once

#include <atomic>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace weft::ringbuf::detail {

#if defined(__linux__) && defined(SYS_membarrier)
// Registers the process for expedited private membarriers on first use. The
// answer is computed once and never changes, so every light and heavy fence
// in the process agrees on which mechanism they pair through.
inline bool AsymmetricFencesEnabled() {
  static const bool enabled =
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  return enabled;
}
#else
inline bool AsymmetricFencesEnabled() { return false; }
#endif

inline void LightFence() {
  if (AsymmetricFencesEnabled()) {
    // Compiler barrier only: HeavyFence supplies the CPU barrier on this
    // thread when it matters.
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

// Returns false in the one case where it could not order against light
// fences: registration succeeded but the command then failed (membarrier(2)
// says it does not; a seccomp filter installed later could make it). The
// caller must then not rely on the handshake, e.g. not go to sleep.
[[nodiscard]] inline bool HeavyFence() {
  // This thread's own side of the handshake.
  std::atomic_thread_fence(std::memory_order_seq_cst);
#if defined(__linux__) && defined(SYS_membarrier)
  if (AsymmetricFencesEnabled()) {
    return syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
  }
#endif
  return true;
}

}  // namespace weft::ringbuf::detail
