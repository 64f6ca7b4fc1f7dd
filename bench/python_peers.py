"""What a Python user would pick instead: multiprocessing, measured for malt_bench.

Prints one "name value" line per figure: apply_us (Pool.apply round trip), map_per_s
(Pool.map with chunksize=1), start_ms (Pool(1) creation to first result, fork),
pipe_100mb_ms (100 MB there and back over multiprocessing.Pipe), and with two processes
starmap_per_s (Pool.starmap of add over a million pairs, default chunksize) and
apply_async_64_per_s (Pool.apply_async, 64 in flight).
"""
import collections
import multiprocessing as mp
import time


def ident(x):
    return x


def add(a, b):
    return a + b


def echo(conn):
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        conn.send_bytes(data)


def main():
    mp.set_start_method("fork")
    t0 = time.perf_counter()
    pool = mp.Pool(1)
    pool.apply(ident, (1,))
    print("start_ms", (time.perf_counter() - t0) * 1e3)

    for _ in range(500):
        pool.apply(ident, (1,))
    n = 5000
    t0 = time.perf_counter()
    for _ in range(n):
        pool.apply(ident, (1,))
    print("apply_us", (time.perf_counter() - t0) / n * 1e6)

    m = 50000
    t0 = time.perf_counter()
    pool.map(ident, range(m), chunksize=1)
    print("map_per_s", m / (time.perf_counter() - t0))
    pool.close()
    pool.join()

    pool = mp.Pool(2)
    pool.apply(ident, (1,))
    m = 1_000_000
    t0 = time.perf_counter()
    pool.starmap(add, zip(range(m), range(m)))
    print("starmap_per_s", m / (time.perf_counter() - t0))
    n = 50000
    in_flight = collections.deque()
    t0 = time.perf_counter()
    for i in range(n):
        if len(in_flight) == 64:
            in_flight.popleft().get()
        in_flight.append(pool.apply_async(add, (i, 1)))
    for r in in_flight:
        r.get()
    print("apply_async_64_per_s", n / (time.perf_counter() - t0))
    pool.close()
    pool.join()

    here, there = mp.Pipe()
    peer = mp.Process(target=echo, args=(there,))
    peer.start()
    data = b"\x07" * 100_000_000
    here.send_bytes(data)
    here.recv_bytes()  # warm-up
    t0 = time.perf_counter()
    here.send_bytes(data)
    here.recv_bytes()
    print("pipe_100mb_ms", (time.perf_counter() - t0) * 1e3)
    here.close()
    peer.terminate()
    peer.join()


if __name__ == "__main__":
    main()
