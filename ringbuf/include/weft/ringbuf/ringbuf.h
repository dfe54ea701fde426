// The whole ringbuf API in one include.
#pragma once

#include "weft/ringbuf/event_allocator.h"
#include "weft/ringbuf/event_processor.h"
#include "weft/ringbuf/pooled_event.h"
#include "weft/ringbuf/ring.h"
#include "weft/ringbuf/ring_ptr.h"
#include "weft/ringbuf/ring_ptr_with.h"
#include "weft/ringbuf/slot_pool.h"
#include "weft/ringbuf/wait_strategy.h"
#include "weft/status.h"
