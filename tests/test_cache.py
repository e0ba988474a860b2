"""vsrtn.cache: each key computed once across threads; least recently used evicted first."""
from __future__ import annotations

import threading
import time

from vsrtn.cache import LRUCache


def test_threads_asking_together_share_one_computation():
    cache: LRUCache[int] = LRUCache(4)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.05)
        return 42

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_compute("k", compute))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 8 and len(calls) == 1


def test_the_least_recently_used_entry_goes_first():
    cache: LRUCache[str] = LRUCache(2)
    cache.put(1, "a")
    cache.put(2, "b")
    assert cache.get(1) == "a"  # 1 is now the most recently used
    cache.put(3, "c")
    assert cache.get(2) is None and cache.get(1) == "a" and cache.get(3) == "c"
