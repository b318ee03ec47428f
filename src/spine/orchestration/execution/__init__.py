"""The engine: a claimed run replayed and its steps given to the handler of their kind.

``run.py`` holds the loop (:class:`~spine.orchestration.execution.run.RunExecution`);
one module per kind of step holds its handler (``leaf.py``, ``choice.py``, ``wait.py``,
``map.py``, ``child.py``); ``recorder.py`` writes attempts; ``keeper.py`` renews the lease.
"""
