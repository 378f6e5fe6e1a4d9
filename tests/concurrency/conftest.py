import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

N = 20


def fire_together(url: str, data: dict, n: int = N, **request) -> list[httpx.Response]:
    """POST ``data`` to ``url`` from ``n`` threads released at once by a barrier;
    ``request`` goes to ``httpx.Client.post`` (headers=..., auth=...)."""
    barrier = threading.Barrier(n)

    def one(_):
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            return http.post(url, data=data, **request)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))
