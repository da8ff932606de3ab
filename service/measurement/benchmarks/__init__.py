"""`citewell bench`: speed figures, each printed beside the bare cost it is compared with, in the same run.

- ``query``: /api/ask latency p50/p95/p99 over HTTP (locust, closed loop of 1, 4, 16 clients) and requests/s at
  saturation, against the bare pipeline (``model.encode`` + FAISS search, on the workers' torch thread count,
  also taken in pairs with HTTP answers for the overhead ratio) and bare encode-only throughput.
- ``ingest``: passages/s and peak memory of ``build_index`` against bare ``model.encode`` of the same texts; with
  a Ray address, also the same build on that cluster with 1 and 2 embedding actors, against the single-process
  build.
- ``soak``: a sustained run at saturation with the index rebuilt and swapped in halfway: failed requests and
  the worker's resident memory over time; with several replicas over one index, requests take turns among them.
- ``scale``: recall@10 against exact search, search latency, bytes per vector and build time of the vector index
  at 100,000 and 1,000,000 passages (real passage vectors repeated with Gaussian noise and renormalised).
- ``answers``: whole answers (hybrid retrieval, sentence scoring, quotes) from a collection of N passages against
  the same from a one-document collection, question by question in the same run. The large collection is the
  index's real documents repeated under new ids, their real vectors moved by noise (no model runs for passages
  at ingest; with sentence vectors, each distinct sentence is encoded once).

One module per benchmark (``query``, ``ingest``, ``soak``, ``scale``, ``answers``, ``slow``, ``crawl``); what
they share (a `citewell serve` to measure, HTTP load, percentiles, memory) is in ``harness``.
"""
