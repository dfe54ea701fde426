// The compile-time guard for rings and pools whose storage lives inline (in
// a static, a stack frame or another object) rather than on the heap.
#pragma once

#include <cstddef>

namespace weft::ringbuf {

// Inline storage above this size belongs on the heap: a static of several MiB
// bloats every binary's .bss footprint, and on a thread stack it overflows.
inline constexpr size_t kMaxInlineStorageBytes = size_t{1} << 20;  // 1 MiB

// True when `bytes` of storage may live inline. Every inline-storage type in
// ringbuf static_asserts this, so an oversized one fails to compile.
constexpr bool FitsInlineStorage(size_t bytes) { return bytes <= kMaxInlineStorageBytes; }

}  // namespace weft::ringbuf
