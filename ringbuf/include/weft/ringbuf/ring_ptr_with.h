// RingPtrWith<T, Record>: a RingPtr and a small record that travel together
// as one ring entry.
#pragma once

#include <type_traits>

#include "weft/ringbuf/ring_ptr.h"

namespace weft::ringbuf {

// What a pipeline stage publishes when an event is a slot (the bytes that
// arrived) plus a few facts about it that the stage worked out (where it
// came from, what it is, how far it got): the facts ride in the entry, so
// no stage re-parses the slot or allocates a side structure, and the ring
// still treats the entry as the RingPtr it holds: the producer records the
// slot as it publishes and drops the reference once every reader has
// passed, without loading the entry (see Writer::held_ in ring.h).
//
// `record` is trivially copyable and small: with the 16-byte RingPtr an
// entry fits one cache line, so a reader's borrow touches one line.
// A default-constructed entry holds no slot and a value-initialized record;
// an entry whose `ptr` is empty is legal (an event that is all record).
template <typename T, typename Record>
struct RingPtrWith {
  static_assert(std::is_trivially_copyable_v<Record>,
                "the record is copied into ring entries and never destroyed");
  static_assert(sizeof(Record) <= 48, "RingPtr + record fit one 64-byte cache line");

  RingPtr<T> ptr;
  Record record{};
};

namespace detail {
// The RingPtr an entry holds, for the ring's writer; `kHoldsSlot` says
// whether entries of type E hold one at all.
template <typename E>
struct EntrySlot {
  static constexpr bool kHoldsSlot = false;
};
template <typename T>
struct EntrySlot<RingPtr<T>> {
  static constexpr bool kHoldsSlot = true;
  static const RingPtr<T>& Of(const RingPtr<T>& e) { return e; }
};
template <typename T, typename Record>
struct EntrySlot<RingPtrWith<T, Record>> {
  static constexpr bool kHoldsSlot = true;
  static const RingPtr<T>& Of(const RingPtrWith<T, Record>& e) { return e.ptr; }
};
}  // namespace detail

}  // namespace weft::ringbuf
