"""The operator's heap trim, measured on a real process: a burst freed stays in glibc's heap
(the RSS the adoption of many rollouts left behind) until ``trim_forever`` gives it back."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# A burst of ~240 MiB in 4 kB blocks (glibc's heap, not mmap), every 200th kept so the
# freed blocks are holes below live ones: glibc cannot shrink its heap's top by itself.
PROBE = textwrap.dedent("""
    import asyncio, json, os
    from hybridstream_operator.handlers import heap

    def rss_mib():
        pages = int(open("/proc/self/statm").read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

    burst = [bytearray(4000) for _ in range(60000)]
    keep = burst[::200]
    peak = rss_mib()
    del burst
    freed = rss_mib()

    async def trim_a_while():
        task = asyncio.create_task(heap.trim_forever(0.01))
        await asyncio.sleep(0.2)
        task.cancel()

    asyncio.run(trim_a_while())
    print(json.dumps({"peak": peak, "freed": freed, "trimmed": rss_mib(), "kept": len(keep)}))
""")


def test_a_freed_burst_goes_back_to_the_system():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, timeout=60)
    rss = json.loads(out.stdout)
    burst = rss["peak"] - rss["trimmed"]
    # freeing alone kept the pages (why the operator trims at all)...
    assert rss["freed"] > rss["peak"] - 40, rss
    # ...the trim gave most of the burst back
    assert burst > 150 and rss["trimmed"] < rss["peak"] / 2, rss
