"""The lock-protected cache every thread-shared memo in vsrtn uses: the plugin's window results
and the keyframe chains' states. Whatever it holds is a pure function of its key, so an entry
evicted early costs time, never a different result.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """At most `capacity` entries (0: none kept), least recently used evicted first; safe across threads.
    `get_or_compute` computes each key once even when many threads ask for it together."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"LRUCache: capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self._lock = threading.Lock()
        self._done: OrderedDict[Hashable, V] = OrderedDict()
        self._busy: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable) -> V | None:
        """The value of `key` (now the most recently used), or None."""
        with self._lock:
            return self._hit(key)

    def _hit(self, key: Hashable) -> V | None:
        if key not in self._done:
            return None
        self._done.move_to_end(key)
        return self._done[key]

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._put(key, value)

    def _put(self, key: Hashable, value: V) -> None:
        self._done[key] = value
        self._done.move_to_end(key)
        while len(self._done) > self.capacity:
            self._done.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The value of `key`, computed by `compute()` if absent; a thread that asks while another
        computes it waits for that result instead of computing it again."""
        while True:
            with self._lock:
                if key in self._done:
                    return self._hit(key)
                busy = self._busy.get(key)
                if busy is None:
                    busy = self._busy[key] = threading.Lock()
                    busy.acquire()
                    break
            with busy:  # another thread is computing it: wait, then look again
                pass
        try:
            value = compute()
            with self._lock:
                self._put(key, value)
            return value
        finally:
            with self._lock:
                del self._busy[key]
            busy.release()
