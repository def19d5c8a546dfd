"""``facerec index --cluster ADDRESS``: the encoding on a Dask distributed cluster.

Dask distributed was chosen over Ray on measurement (BENCHMARKS.md, "Photo library"): a smaller install
(5.4 MB of wheels against 82.7 MB) and the overhead per photo measured there. Each worker runs
:func:`facerec.library.index.encode_content` on a photo it reads by path (so the paths must be the same on
every worker: shared storage); the results come back to the coordinating process, the only one that writes
the database. Workers need facerec and its encoder's model files installed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from facerec.exceptions import InvalidArgument
from facerec.library.index import Job, Runner, encode_content

IN_FLIGHT = 2_000  # photos submitted to the scheduler at once (the rest wait here, so memory stays bounded)


def dask_runner(address, in_flight: int = IN_FLIGHT) -> Runner:
    """A runner that encodes on the Dask scheduler at ``address`` (``tcp://host:8786``, or a ``LocalCluster``).

    Results arrive in completion order; at most ``in_flight`` photos are queued on the cluster at once.

    Raises:
        InvalidArgument: the scheduler cannot be reached (within 30 s).
    """
    def run(jobs: Sequence[Job]) -> Iterator:
        from distributed import Client, as_completed

        try:
            client = Client(address, timeout="30s")
        except OSError as error:
            raise InvalidArgument(f"cannot reach the Dask scheduler at {address}: {error}; start one (dask "
                                  "scheduler, dask worker ADDRESS) or leave out --cluster") from error
        with client:
            pending = iter(jobs)
            first = [client.submit(encode_content, job, pure=False) for job, _ in zip(pending, range(in_flight))]
            running = as_completed(first)
            for future in running:
                yield future.result()
                future.release()
                following = next(pending, None)
                if following is not None:
                    running.add(client.submit(encode_content, following, pure=False))

    return run


def local_cluster(workers: int = 2):
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes on this machine."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")  # a free port
